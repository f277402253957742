"""Over HTTP: nosniff on every response, HSTS when the site is https, 404 for impossible ids."""

from __future__ import annotations

import doctest
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from accel.settings import Settings
from tests.web import test_dashboard_http as dashboard_http
from tests.web.test_dashboard_http import TOMAS, LiveDashboard
from web import response_headers
from web.app import create_app
from web.thread_server import serving

# The dashboard tests' fixtures: the small cohort applied, served with operator settings.
start_dashboard = dashboard_http.start_dashboard
dashboard = dashboard_http.dashboard

HSTS = "max-age=31536000"


def _responses(live: LiveDashboard, client: httpx.Client) -> dict[str, httpx.Response]:
    """One response of each sort the server gives: feed, 304, page, static, 404, 303, 405, 401."""
    feed_url = f"/calendars/{live.tokens['person:' + TOMAS]}.ics"
    feed = client.get(feed_url)
    return {
        "healthz": client.get("/healthz"),
        "feed": feed,
        "feed 304": client.get(feed_url, headers={"If-None-Match": feed.headers["etag"]}),
        "feed HEAD": client.head(feed_url),
        "unknown token": client.get(f"/calendars/{'A' * 43}.ics"),
        "unknown path": client.get("/nothing/here"),
        "personal page": client.get(f"/me/{live.tokens['person:' + TOMAS]}"),
        "static css": client.get("/static/dashboard.css"),
        "static js": client.get("/static/dashboard.js"),
        "static missing": client.get("/static/missing.js"),
        "login page": client.get("/ops/login"),
        "redirect to login": client.get("/ops/"),
        "wrong method": client.delete("/healthz"),
        "retry without session": client.post("/ops/outbox/1/retry", data={"csrf_token": "x"}),
    }


def test_every_response_says_nosniff_once_and_no_hsts_over_http(dashboard: LiveDashboard) -> None:
    with dashboard.client() as client:
        responses = _responses(dashboard, client)
    statuses = {r.status_code for r in responses.values()}
    assert statuses == {200, 303, 304, 401, 404, 405}
    for what, response in responses.items():
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], what
        assert "strict-transport-security" not in response.headers, what


def test_every_response_carries_hsts_when_the_public_url_is_https(
    start_dashboard: Callable[..., LiveDashboard],
) -> None:
    live = start_dashboard(public_base_url="https://calendar.example.org")
    with live.client() as client:
        responses = _responses(live, client)
    for what, response in responses.items():
        assert response.headers.get_list("strict-transport-security") == [HSTS], what
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], what


@pytest.mark.parametrize(
    "message_id",
    [str(2**63), str(2**64), "9" * 40, "-1", "0", "1.5", "1e3", "x", "%20"],
)
def test_an_impossible_message_id_is_a_bare_404(dashboard: LiveDashboard, message_id: str) -> None:
    failed = dashboard_http._fail_one(dashboard.engine)
    with dashboard.client() as client:
        csrf = dashboard.login(client)
        response = client.post(f"/ops/outbox/{message_id}/retry", data={"csrf_token": csrf})
        assert response.status_code == 404, response.text
        assert response.content == b"Not Found\n"
        # The largest id the database can hold still reaches the page (and is not found there).
        biggest = client.post(f"/ops/outbox/{2**63 - 1}/retry", data={"csrf_token": csrf})
        assert biggest.status_code == 409
    assert dashboard_http._status(dashboard.engine, failed)[0] == "failed"


def test_a_crash_is_a_plain_500_with_the_same_headers(tmp_path: Path) -> None:
    # A database that cannot be opened: /healthz fails inside the app.
    broken = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'accel.db'}")
    settings = Settings(public_base_url="https://calendar.example.org")
    with serving(create_app(settings, engine=broken)) as url:
        response = httpx.get(f"{url}/healthz", timeout=30)
    assert response.status_code == 500
    assert response.content == b"Internal Server Error\n"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["strict-transport-security"] == HSTS


def test_doctests() -> None:
    result = doctest.testmod(response_headers)
    assert result.attempted > 0 and result.failed == 0
