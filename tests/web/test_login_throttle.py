"""Failed operator logins are limited per client address: the rule itself, then over HTTP."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from accel.settings import Settings
from tests.web.test_dashboard_http import PASSWORD, USERNAME, csrf_of, operator_settings
from web.app import create_app
from web.login_throttle import LoginThrottle
from web.thread_server import serving

START = dt.datetime(2024, 9, 1, 12, tzinfo=dt.UTC)
WINDOW = dt.timedelta(minutes=15)
ELSEWHERE = "203.0.113.7"  # a documentation address, as a reverse proxy would forward it


class StepClock:
    """A clock that moves only when the test says so."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


# --- the rule -----------------------------------------------------------------------------


def test_the_limit_counts_failures_in_a_sliding_window() -> None:
    clock = StepClock()
    throttle = LoginThrottle(max_failures=5, window=WINDOW, clock=clock)
    for _ in range(4):
        assert throttle.start_attempt("a") is None
        assert throttle.retry_after("a") is None
        clock.advance(minutes=1)
    assert throttle.start_attempt("a") is None  # the fifth, at 12:04; the first was at 12:00
    assert throttle.retry_after("a") == 11 * 60
    assert throttle.start_attempt("a") == 11 * 60  # refused, and not counted
    assert throttle.retry_after("b") is None
    clock.advance(minutes=11, seconds=-1)
    assert throttle.retry_after("a") == 1
    clock.advance(seconds=1)  # the 12:00 failure leaves the window: one more try
    assert throttle.start_attempt("a") is None
    assert throttle.retry_after("a") == 60  # until the 12:01 failure leaves it


def test_a_success_clears_the_clients_failures() -> None:
    throttle = LoginThrottle(max_failures=2, window=WINDOW, clock=StepClock())
    throttle.start_attempt("a")
    throttle.clear("a")
    throttle.start_attempt("a")
    assert throttle.retry_after("a") is None
    throttle.start_attempt("a")
    assert throttle.retry_after("a") == WINDOW.total_seconds()


def test_memory_is_bounded_when_addresses_are_sprayed() -> None:
    clock = StepClock()
    throttle = LoginThrottle(max_failures=1, window=WINDOW, clock=clock, max_clients=3)
    for n in range(10):
        throttle.start_attempt(f"10.0.0.{n}")
        clock.advance(seconds=1)
    assert len(throttle._failures) == 3
    assert throttle.retry_after("10.0.0.9") is not None  # the latest are kept
    assert throttle.retry_after("10.0.0.0") is None
    clock.advance(hours=1)
    throttle.start_attempt("10.0.0.10")  # expired clients go first
    assert list(throttle._failures) == ["10.0.0.10"]


def test_the_limits_are_settings_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACCEL_LOGIN_MAX_FAILURES", "ACCEL_LOGIN_FAILURE_WINDOW_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (defaults.login_max_failures, defaults.login_failure_window_seconds) == (5, 900)
    monkeypatch.setenv("ACCEL_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("ACCEL_LOGIN_FAILURE_WINDOW_SECONDS", "60")
    chosen = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (chosen.login_max_failures, chosen.login_failure_window_seconds) == (3, 60)
    monkeypatch.setenv("ACCEL_LOGIN_MAX_FAILURES", "0")
    with pytest.raises(ValueError, match="login_max_failures"):
        Settings(_env_file=None)  # type: ignore[call-arg]


# --- over HTTP ----------------------------------------------------------------------------


@dataclass
class LoginPage:
    url: str
    clock: StepClock

    def client(self, address: str | None = None) -> httpx.Client:
        """A client; with `address`, as if a reverse proxy on this machine forwarded it."""
        headers = {"X-Forwarded-For": address} if address else {}
        return httpx.Client(base_url=self.url, timeout=30, headers=headers)

    @staticmethod
    def attempt(client: httpx.Client, password: str) -> httpx.Response:
        token = csrf_of(client.get("/ops/login").text)
        return client.post(
            "/ops/login",
            data={"username": USERNAME, "password": password, "csrf_token": token},
        )


@pytest.fixture
def start_login_page(sqlite_engine: sa.Engine) -> Iterator[Callable[..., LoginPage]]:
    """`start_login_page(**settings)`: the web app on a real server, its clock a `StepClock`."""
    with ExitStack() as stack:

        def start(**settings: Any) -> LoginPage:
            clock = StepClock()
            app = create_app(operator_settings(**settings), engine=sqlite_engine, clock=clock)
            return LoginPage(stack.enter_context(serving(app)), clock)

        yield start


def test_after_five_failures_the_address_waits_out_the_window(
    start_login_page: Callable[..., LoginPage], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="accel.web")
    page = start_login_page()
    with page.client() as client:
        for _ in range(5):
            assert page.attempt(client, "wrong").status_code == 401
        refused = page.attempt(client, PASSWORD)  # the right password, not even looked at
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "900"
        assert "Too many failed logins from your address" in refused.text
        assert "Please wait 15 minutes" in refused.text
        assert "accel_ops_session" not in refused.headers.get("set-cookie", "")
        assert client.get("/ops/").status_code == 303  # still logged out

        page.clock.advance(minutes=14, seconds=59)
        late = page.attempt(client, PASSWORD)
        assert late.status_code == 429 and late.headers["retry-after"] == "1"
        assert "Please wait 1 second," in late.text
        page.clock.advance(seconds=1)
        welcome = page.attempt(client, PASSWORD)
        assert welcome.status_code == 303
        assert "accel_ops_session=" in str(welcome.headers.get_list("set-cookie"))
    said = [r.getMessage() for r in caplog.records if "failed attempts" in r.getMessage()]
    assert said == [
        "operator login: 5 failed attempts from 127.0.0.1 in the last 900 s; "
        "its logins are refused (429) for now"
    ]


def test_one_address_is_not_held_back_by_anothers_failures(
    start_login_page: Callable[..., LoginPage],
) -> None:
    page = start_login_page()
    with page.client() as attacker, page.client(ELSEWHERE) as operator:
        for _ in range(5):
            assert page.attempt(attacker, "guess").status_code == 401
        assert page.attempt(attacker, "guess").status_code == 429
        assert page.attempt(operator, "typo").status_code == 401
        assert page.attempt(operator, PASSWORD).status_code == 303


def test_addresses_of_one_ipv6_network_share_one_limit(
    start_login_page: Callable[..., LoginPage],
) -> None:
    """A host holds a whole /64: a new address in it is no fresh start; another /64 is."""
    page = start_login_page()
    for n in range(5):
        with page.client(f"2001:db8:1:2::{n + 1:x}") as client:
            assert page.attempt(client, "guess").status_code == 401
    with page.client("2001:db8:1:2:ffff::9") as same_network:
        assert page.attempt(same_network, PASSWORD).status_code == 429
    with page.client("2001:db8:1:3::1") as next_network:
        assert page.attempt(next_network, PASSWORD).status_code == 303


def test_a_successful_login_clears_the_failures(
    start_login_page: Callable[..., LoginPage],
) -> None:
    page = start_login_page()
    with page.client() as client:
        for _ in range(4):
            assert page.attempt(client, "wrong").status_code == 401
        assert page.attempt(client, PASSWORD).status_code == 303
        client.cookies.clear()
        for _ in range(5):
            assert page.attempt(client, "wrong").status_code == 401
        assert page.attempt(client, "wrong").status_code == 429


def test_the_limits_come_from_the_settings(start_login_page: Callable[..., LoginPage]) -> None:
    page = start_login_page(login_max_failures=2, login_failure_window_seconds=60)
    with page.client() as client:
        for _ in range(2):
            assert page.attempt(client, "wrong").status_code == 401
        refused = page.attempt(client, PASSWORD)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
        page.clock.advance(minutes=1)
        assert page.attempt(client, PASSWORD).status_code == 303


def test_parallel_attempts_get_no_more_than_the_limit(
    start_login_page: Callable[..., LoginPage],
) -> None:
    page = start_login_page()
    with ExitStack() as stack:
        clients = [stack.enter_context(page.client()) for _ in range(20)]
        tokens = [csrf_of(client.get("/ops/login").text) for client in clients]

        def guess(n: int) -> int:
            data = {"username": USERNAME, "password": f"guess-{n}", "csrf_token": tokens[n]}
            return clients[n].post("/ops/login", data=data).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = sorted(pool.map(guess, range(20)))
    assert statuses == [401] * 5 + [429] * 15
