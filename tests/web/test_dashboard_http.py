"""The dashboard and personal pages over HTTP, without a browser: access, CSRF, CSV, tokens."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from accel.deliverables import submit_deliverable
from accel.feed_source import feed_source_from_inputs, store_feed_source
from accel.feed_tokens import FeedSubject, issue_token, rotate_token
from accel.settings import Settings
from calendars.timeline_types import LoadedInputs, uid_for
from models.outbox import OUTBOX
from models.tables import (
    CITY,
    DELIVERABLE,
    INVITATION,
    SESSION,
)
from tasks.operations import apply_cohort
from web.app import create_app
from web.thread_server import serving

COHORT = "test-small"
TOMAS = "t.herrera@santiago.example.org"
DIEGO = "d.navarro@cdmx.example.org"
OPERATOR_GETS = (
    "/ops/",
    f"/ops/cohorts/{COHORT}",
    "/ops/deliverables",
    "/ops/deliverables.csv",
    "/ops/outbox",
    "/ops/cities/santiago",
)
APPLIED_AT = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 9, 1, tzinfo=dt.UTC)
USERNAME = "operator"
PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class LiveDashboard:
    url: str
    engine: sa.Engine
    inputs: LoadedInputs
    tokens: dict[str, str]  # "person:EMAIL" / "city:ID" -> token
    now: dt.datetime = NOW
    username: str = USERNAME
    password: str = PASSWORD

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)

    def login(self, client: httpx.Client) -> str:
        """Log `client` in through the form; the CSRF token of its operator session."""
        form = client.get("/ops/login")
        assert form.status_code == 200
        response = client.post(
            "/ops/login",
            data={"username": USERNAME, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        )
        assert response.status_code == 303, response.text
        return csrf_of(client.get("/ops/outbox").text)

    @staticmethod
    def csrf_of(html: str) -> str:
        return csrf_of(html)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def operator_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "operator_username": USERNAME,
        "operator_password": SecretStr(PASSWORD),
        "session_secret": SecretStr("test-session-secret-" + "x" * 32),
        "public_base_url": "http://127.0.0.1:8000",
    }
    return Settings(**(values | overrides))


@pytest.fixture
def start_dashboard(
    sqlite_engine: sa.Engine, small: LoadedInputs
) -> Iterator[Callable[..., LiveDashboard]]:
    """`start_dashboard(**settings)`: the small cohort applied on 1 May, served with `now` pinned
    to 1 September 2024, with feed tokens for Tomás, Diego and the city of Santiago."""
    apply_cohort(sqlite_engine, small, now=APPLIED_AT)
    with sqlite_engine.begin() as connection:
        store_feed_source(connection, source=feed_source_from_inputs(small), now=APPLIED_AT)
        tokens = {
            f"{kind}:{subject}": issue_token(
                connection, subject=FeedSubject(small.cohort.id, kind, subject), now=APPLIED_AT
            )
            for kind, subject in (("person", TOMAS), ("person", DIEGO), ("city", "santiago"))
        }
    with ExitStack() as stack:

        def start(now: dt.datetime = NOW, **settings: Any) -> LiveDashboard:
            app = create_app(operator_settings(**settings), engine=sqlite_engine, clock=lambda: now)
            url = stack.enter_context(serving(app))
            return LiveDashboard(url, sqlite_engine, small, tokens)

        yield start


@pytest.fixture
def dashboard(start_dashboard: Callable[..., LiveDashboard]) -> LiveDashboard:
    return start_dashboard()


def _fail_one(engine: sa.Engine, error: str = "550 5.1.1 mailbox unavailable") -> int:
    with engine.begin() as connection:
        message = (
            connection.execute(
                sa.select(OUTBOX.c.id).where(OUTBOX.c.cohort_id == COHORT).order_by(OUTBOX.c.id)
            )
            .scalars()
            .first()
        )
        assert message is not None
        connection.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == message)
            .values(status="failed", last_error=error, attempts=3)
        )
    return int(message)


def _status(engine: sa.Engine, message: int) -> tuple[str, str | None]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(OUTBOX.c.status, OUTBOX.c.last_error).where(OUTBOX.c.id == message)
        ).one()
    return row.status, row.last_error


def _city_names(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(CITY.c.id, CITY.c.name).where(CITY.c.cohort_id == COHORT)
        ).all()
    return {row.id: row.name for row in rows}


# --- access -------------------------------------------------------------------------------


def test_operator_pages_send_a_visitor_to_the_login_form(dashboard: LiveDashboard) -> None:
    with dashboard.client() as client:
        for path in OPERATOR_GETS:
            response = client.get(path)
            assert response.status_code == 303, path
            location = httpx.URL(response.headers["location"])
            assert location.path == "/ops/login"
            assert location.params["next"] == path
            assert "Santiago" not in response.text
        message = _fail_one(dashboard.engine)
        refused = client.post(f"/ops/outbox/{message}/retry", data={"csrf_token": "x"})
        assert refused.status_code == 401
    assert _status(dashboard.engine, message)[0] == "failed"


def test_logging_in_needs_the_right_credentials(dashboard: LiveDashboard) -> None:
    with dashboard.client() as client:
        for username, password in (
            (dashboard.username, "wrong"),
            ("someone", dashboard.password),
            ("", ""),
        ):
            token = dashboard.csrf_of(client.get("/ops/login").text)
            response = client.post(
                "/ops/login",
                data={"username": username, "password": password, "csrf_token": token},
            )
            assert response.status_code == 401
            assert "Wrong username or password." in response.text
            assert "accel_ops_session" not in response.headers.get("set-cookie", "")
        assert client.get("/ops/").status_code == 303

        token = dashboard.csrf_of(client.get("/ops/login?next=/ops/outbox").text)
        response = client.post(
            "/ops/login",
            data={
                "username": dashboard.username,
                "password": dashboard.password,
                "csrf_token": token,
                "next": "/ops/outbox",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/ops/outbox"
        cookie = next(
            v for k, v in response.headers.multi_items() if k == "set-cookie" and "session" in v
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ops" in cookie
        assert "Secure" not in cookie  # the public base URL is http here
        assert client.get("/ops/").status_code == 200


def test_the_session_cookie_is_secure_when_the_site_is_https(
    start_dashboard: Callable[..., LiveDashboard],
) -> None:
    dashboard = start_dashboard(public_base_url="https://calendar.example.org")
    with dashboard.client() as client:
        form = client.get("/ops/login")
        # A Secure cookie is not sent back over this test's plain http: send it by hand.
        login_cookie = form.cookies["accel_ops_login"]
        response = client.post(
            "/ops/login",
            data={
                "username": dashboard.username,
                "password": dashboard.password,
                "csrf_token": dashboard.csrf_of(form.text),
            },
            headers={"Cookie": f"accel_ops_login={login_cookie}"},
        )
    assert "Secure" in form.headers["set-cookie"]
    assert response.status_code == 303
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert any("accel_ops_session=" in c and "Secure" in c for c in cookies)


def test_the_login_form_rejects_a_post_without_its_csrf_token(dashboard: LiveDashboard) -> None:
    credentials = {"username": dashboard.username, "password": dashboard.password}
    with dashboard.client() as client:
        assert client.post("/ops/login", data=credentials).status_code == 403
        client.get("/ops/login")  # the login cookie is set, but the form's token is missing
        assert client.post("/ops/login", data=credentials).status_code == 403
        forged = client.post("/ops/login", data=credentials | {"csrf_token": "A" * 43})
        assert forged.status_code == 403
        assert client.get("/ops/").status_code == 303  # still logged out
    with dashboard.client() as other:
        stolen = dashboard.csrf_of(other.get("/ops/login").text)
    with dashboard.client() as client:  # a token from someone else's form, without its cookie
        assert (
            client.post("/ops/login", data=credentials | {"csrf_token": stolen}).status_code == 403
        )


def test_operator_posts_are_rejected_without_the_sessions_csrf_token(
    dashboard: LiveDashboard,
) -> None:
    message = _fail_one(dashboard.engine)
    with dashboard.client() as client:
        csrf = dashboard.login(client)
        assert client.post(f"/ops/outbox/{message}/retry").status_code == 403
        wrong = client.post(f"/ops/outbox/{message}/retry", data={"csrf_token": "A" * 43})
        assert wrong.status_code == 403
        assert _status(dashboard.engine, message) == ("failed", "550 5.1.1 mailbox unavailable")
        assert client.post("/ops/logout").status_code == 403
        assert client.get("/ops/").status_code == 200  # logout without a token did nothing

        retried = client.post(f"/ops/outbox/{message}/retry", data={"csrf_token": csrf})
        assert retried.status_code == 303
        assert retried.headers["location"] == f"/ops/outbox?cohort={COHORT}&retried={message}"
        assert _status(dashboard.engine, message) == ("pending", None)
        again = client.post(f"/ops/outbox/{message}/retry", data={"csrf_token": csrf})
        assert again.status_code == 409 and "not failed" in again.text

        assert client.post("/ops/logout", data={"csrf_token": csrf}).status_code == 303
        assert client.get("/ops/").status_code == 303


def test_after_login_only_local_operator_paths_are_followed(dashboard: LiveDashboard) -> None:
    with dashboard.client() as client:
        for target in ("//evil.example/ops/", "https://evil.example/", "/me/x"):
            token = dashboard.csrf_of(client.get("/ops/login").text)
            response = client.post(
                "/ops/login",
                data={
                    "username": dashboard.username,
                    "password": dashboard.password,
                    "csrf_token": token,
                    "next": target,
                },
            )
            assert response.headers["location"] == "/ops/"
            client.cookies.clear()


@pytest.mark.parametrize(
    ("username", "password"), [(None, None), ("operator", None), (None, "secret"), ("operator", "")]
)
def test_operator_pages_are_disabled_without_credentials(
    start_dashboard: Callable[..., LiveDashboard], username: str | None, password: str | None
) -> None:
    dashboard = start_dashboard(
        operator_username=username,
        operator_password=None if password is None else SecretStr(password),
    )
    with dashboard.client() as client:
        for response in (
            client.get("/ops/"),
            client.get("/ops/login"),
            client.post("/ops/login", data={"username": "operator", "password": ""}),
        ):
            assert response.status_code == 503
            assert "ACCEL_OPERATOR_USERNAME" in response.text
            assert "ACCEL_OPERATOR_PASSWORD" in response.text
        # The personal pages do not depend on the operator's credentials.
        assert client.get(f"/me/{dashboard.tokens['person:' + TOMAS]}").status_code == 200


def test_a_missing_session_secret_is_generated_and_said_in_the_log(
    start_dashboard: Callable[..., LiveDashboard], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="accel.web")
    dashboard = start_dashboard(session_secret=None)
    said = [r.getMessage() for r in caplog.records if "ACCEL_SESSION_SECRET" in r.getMessage()]
    assert len(said) == 1 and "random" in said[0]
    with dashboard.client() as client:
        dashboard.login(client)
        assert client.get("/ops/").status_code == 200


# --- operator pages ---------------------------------------------------------------------


def test_the_timeline_has_a_row_per_city_and_filters(dashboard: LiveDashboard) -> None:
    cities = _city_names(dashboard.engine)
    with dashboard.client() as client:
        dashboard.login(client)
        page = client.get("/ops/").text
        assert set(re.findall(r'<g class="row" data-city="([^"]+)"', page)) == set(cities)
        assert 'class="today"' in page and 'class="legend"' in page
        assert "now-outside" not in page
        assert f'href="/ops/cities/santiago?cohort={COHORT}"' in page

        one = client.get("/ops/", params={"city": "santiago"}).text
        assert re.findall(r'<g class="row" data-city="([^"]+)"', one) == ["santiago"]
        masterclasses = client.get("/ops/", params={"kind": "masterclass"}).text
        kinds = set(re.findall(r'<rect class="session" data-kind="([^"]+)"', masterclasses))
        assert kinds == {"masterclass"}
        assert set(re.findall(r'<g class="row" data-city="([^"]+)"', masterclasses)) == set(cities)
        assert client.get("/ops/cohorts/no-such-cohort").status_code == 404


def test_the_timeline_says_where_now_is_when_it_is_outside_the_chart(
    start_dashboard: Callable[..., LiveDashboard],
) -> None:
    later = start_dashboard(now=dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC))
    with later.client() as client:
        later.login(client)
        page = client.get("/ops/").text
    assert 'class="today"' not in page
    assert "Now (2026-11-24) is after the months shown" in page


def test_the_deliverables_matrix_sorts_by_city_and_by_status(dashboard: LiveDashboard) -> None:
    with dashboard.engine.begin() as connection:
        # Santiago handed in its self-assessment on time; the other cities' is overdue at NOW.
        submit_deliverable(
            connection,
            cohort_id=COHORT,
            city_id="santiago",
            deliverable="maturity-assessment",
            link="https://docs.example.org/santiago",
            now=dt.datetime(2024, 8, 1, tzinfo=dt.UTC),
        )
    names = _city_names(dashboard.engine)
    by_name = sorted(names, key=lambda c: names[c].casefold())
    with dashboard.client() as client:
        dashboard.login(client)

        def order(**params: str) -> list[str]:
            page = client.get("/ops/deliverables", params=params)
            assert page.status_code == 200
            return re.findall(r'<tr data-city="([^"]+)"', page.text)

        assert order() == by_name
        assert order(sort="city", dir="desc") == by_name[::-1]
        by_status = order(sort="maturity-assessment")
        assert by_status[-1] == "santiago"  # overdue first, submitted last
        assert order(sort="maturity-assessment", dir="desc")[0] == "santiago"
        assert order(sort="no-such-deliverable") == by_name
        page = client.get("/ops/deliverables").text
        assert "sort=maturity-assessment" in page and 'data-status="submitted"' in page


def test_the_csv_export_has_a_line_per_city_and_deliverable(dashboard: LiveDashboard) -> None:
    with dashboard.engine.begin() as connection:
        submit_deliverable(
            connection,
            cohort_id=COHORT,
            city_id="santiago",
            deliverable="priorities",
            link='=HYPERLINK("http://evil.example")',
            now=dt.datetime(2024, 7, 10, 15, tzinfo=dt.UTC),
        )
        stored = {
            (r.city_id, r.deliverable): r
            for r in connection.execute(
                sa.select(DELIVERABLE).where(DELIVERABLE.c.cohort_id == COHORT)
            )
        }
    with dashboard.client() as client:
        dashboard.login(client)
        response = client.get("/ops/deliverables.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        'filename="test-small-deliverables-2024-09-01.csv"'
        in response.headers["content-disposition"]
    )
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert len(lines) == len(stored)
    got = {(line["city_id"], line["deliverable"]): line for line in lines}
    assert set(got) == set(stored)
    for key, row in stored.items():
        assert got[key]["due_at_utc"] == row.due_at.isoformat().replace("+00:00", "Z")
    priorities = got[("santiago", "priorities")]
    assert priorities["status"] == "submitted"
    assert priorities["submitted_at_utc"] == "2024-07-10T15:00:00Z"
    assert priorities["link"].startswith("'=")  # a spreadsheet shows it, never runs it
    due = stored[("santiago", "priorities")].due_at.astimezone(ZoneInfo("America/Santiago"))
    assert priorities["due_local"] == f"{due:%Y-%m-%d %H:%M}"
    assert got[("mexico-city", "priorities")]["status"] == "overdue"


def test_the_outbox_page_counts_the_next_seven_days(dashboard: LiveDashboard) -> None:
    end = dashboard.now + dt.timedelta(days=7)
    with dashboard.engine.connect() as connection:
        expected = connection.execute(
            sa.select(OUTBOX.c.city_id, OUTBOX.c.kind, sa.func.count())
            .where(OUTBOX.c.cohort_id == COHORT, OUTBOX.c.status == "pending")
            .where(OUTBOX.c.send_at >= dashboard.now, OUTBOX.c.send_at < end)
            .group_by(OUTBOX.c.city_id, OUTBOX.c.kind)
        ).all()
    assert expected, "the fixture should have messages due in the window"
    message = _fail_one(dashboard.engine, error="421 try again <later>")
    with dashboard.client() as client:
        dashboard.login(client)
        page = client.get("/ops/outbox").text
    total = sum(n for _, _, n in expected)
    assert re.search(rf'<td class="num total">{total}</td>\s*</tr>\s*</tfoot>', page)
    santiago = sum(n for city, _, n in expected if city == "santiago")
    row = re.search(r'<tr data-city="santiago">(.*?)</tr>', page, re.DOTALL)
    assert row is not None and f'<td class="num total">{santiago}</td>' in row.group(1)
    failed = re.search(rf'<tr data-message="{message}">(.*?)</tr>', page, re.DOTALL)
    assert failed is not None
    assert "421 try again &lt;later&gt;" in failed.group(1)  # escaped
    assert f'action="/ops/outbox/{message}/retry"' in failed.group(1)


# --- personal pages -----------------------------------------------------------------------


def test_unknown_tokens_get_the_same_404_as_the_feeds(dashboard: LiveDashboard) -> None:
    person, city = dashboard.tokens[f"person:{TOMAS}"], dashboard.tokens["city:santiago"]
    with dashboard.client() as client:
        feed_404 = client.get(f"/calendars/{'A' * 43}.ics")
        assert feed_404.status_code == 404
        for path in (
            f"/me/{'A' * 43}",
            "/me/short",
            f"/me/{person}x",
            f"/me/{city}",  # a city's token does not open a person's page
            f"/city/{person}",
            f"/city/{'A' * 43}",
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.content == feed_404.content
        assert client.get(f"/me/{person}").status_code == 200
        with dashboard.engine.begin() as connection:
            rotate_token(
                connection, subject=FeedSubject(COHORT, "person", TOMAS), now=dashboard.now
            )
        assert client.get(f"/me/{person}").status_code == 404  # revoked


def test_a_personal_page_shows_nothing_of_other_cities(dashboard: LiveDashboard) -> None:
    with dashboard.client() as client:
        response = client.get(f"/me/{dashboard.tokens['person:' + TOMAS]}")
    assert response.status_code == 200
    page = response.text
    with dashboard.engine.connect() as connection:
        invited = set(
            connection.execute(
                sa.select(INVITATION.c.session_key).where(INVITATION.c.email == TOMAS)
            ).scalars()
        )
        others = (
            connection.execute(
                sa.select(SESSION.c.key)
                .where(SESSION.c.city_id.is_not(None))
                .where(SESSION.c.city_id != "santiago")
            )
            .scalars()
            .all()
        )
    program = dashboard.inputs.program.id
    shown = set(re.findall(r'data-uid="([^"]+)"', page))
    assert shown and shown <= {uid_for(key, program) for key in invited}
    assert not shown & {uid_for(key, program) for key in others}
    for city_id, name in _city_names(dashboard.engine).items():
        if city_id != "santiago":
            assert not re.search(rf"\b{re.escape(name)}\b", page), name
            assert city_id not in page
    # Only his own deliverables: he owns the roster, not the self-assessment (the CDO's).
    assert 'data-deliverable="roster"' in page
    assert 'data-deliverable="maturity-assessment"' not in page


def test_a_personal_page_is_in_the_persons_zone_and_language(dashboard: LiveDashboard) -> None:
    with dashboard.engine.connect() as connection:
        key, starts_at = connection.execute(
            sa.select(SESSION.c.key, SESSION.c.starts_at)
            .where(SESSION.c.cohort_id == COHORT, SESSION.c.kind == "masterclass")
            .where(SESSION.c.starts_at > dashboard.now)
            .order_by(SESSION.c.starts_at)
        ).first()
    uid = uid_for(key, dashboard.inputs.program.id)
    token = dashboard.tokens[f"person:{TOMAS}"]
    with dashboard.client() as client:
        response = client.get(f"/me/{token}")
    page = response.text
    item = re.search(rf'<li data-uid="{re.escape(uid)}"[^>]*>(.*?)</li>', page, re.DOTALL)
    assert item is not None
    local = starts_at.astimezone(ZoneInfo("America/Santiago"))
    assert f"{local:%H:%M}" in item.group(1) and "hora de Santiago" in item.group(1)
    assert '<html lang="es">' in page and "Próximas sesiones" in page
    assert "<title>Su calendario del Acelerador</title>" in page
    assert "Acelerador City Data Alliance" in page and "Accelerator" not in page
    assert f'href="webcal://127.0.0.1:8000/calendars/{token}.ics"' in page
    assert f'value="http://127.0.0.1:8000/calendars/{token}.ics"' in page
    for app in ("Google Calendar", "Outlook", "Apple"):
        assert app in page
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_a_city_teams_page_lists_the_citys_deliverables(dashboard: LiveDashboard) -> None:
    with dashboard.client() as client:
        page = client.get(f"/city/{dashboard.tokens['city:santiago']}").text
    with dashboard.engine.connect() as connection:
        deliverables = (
            connection.execute(
                sa.select(DELIVERABLE.c.deliverable).where(DELIVERABLE.c.city_id == "santiago")
            )
            .scalars()
            .all()
        )
    assert set(re.findall(r'data-deliverable="([^"]+)"', page)) == set(deliverables)
    assert "Santiago" in page and "Camila Soto" in page
    assert "Asunción" not in page


def test_personal_page_tokens_never_reach_the_logs(
    dashboard: LiveDashboard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    person, city = dashboard.tokens[f"person:{TOMAS}"], dashboard.tokens["city:santiago"]
    with dashboard.client() as client:
        assert client.get(f"/me/{person}").status_code == 200
        assert client.get(f"/city/{city}").status_code == 200
    wanted = ("GET /me/<redacted> 200", "GET /city/<redacted> 200")

    def logged() -> str:
        return "\n".join(
            r.getMessage() for r in caplog.records if r.name.split(".")[0] in ("uvicorn", "accel")
        )

    # The access line is written once the response is sent: wait for it, boundedly.
    deadline = time.monotonic() + 10
    while not all(line in logged() for line in wanted) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(line in logged() for line in wanted)
    assert person not in logged() and city not in logged()
