"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright.

The shipped cohort is applied on 1 May 2024 to a SQLite file and served by uvicorn on a free
port of 127.0.0.1 with the clock pinned to 1 September 2024. Every test fails on a console
error, a failed request, or any request that would leave 127.0.0.1 (those are blocked).
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Route,
    expect,
    sync_playwright,
)
from pydantic import SecretStr

from accel.database import create_schema, make_engine
from accel.feed_source import feed_source_from_inputs, store_feed_source
from accel.feed_tokens import FeedSubject, issue_token
from accel.inputs import load_inputs
from accel.settings import Settings
from calendars.timeline_types import LoadedInputs, uid_for
from models.outbox import OUTBOX
from models.tables import SESSION
from tasks.operations import apply_cohort
from web.app import create_app
from web.thread_server import serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
SHIPPED_COHORT = REPO / "cohorts" / "cda-2024.yaml"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
APPLIED_AT = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 9, 1, tzinfo=dt.UTC)
USERNAME = "ops"
PASSWORD = "e2e-password-not-a-default"
SANTIAGO_MEMBER = "t.herrera@santiago.example.org"
MEXICO_CITY_MEMBER = "d.navarro@cdmx.example.org"

# scripts/test says before running pytest whether these run; each skip repeats why.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"browser test skipped: Debian's Chromium is not installed at {CHROMIUM} "
    "(`apt-get install -y chromium`; .ci/run installs it); Playwright's own browser download "
    "is never used",
)


@dataclass
class Site:
    url: str
    engine: sa.Engine
    inputs: LoadedInputs
    tokens: dict[str, str]  # person email -> feed token


@dataclass
class BrowserLog:
    """What a page did that a person would not want: console errors, failures, escapes."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.console_errors == []
        assert self.failed_requests == []
        assert self.blocked_requests == []


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'accel.db'}")
    create_schema(engine)
    inputs = load_inputs(SHIPPED_COHORT)
    apply_cohort(engine, inputs, now=APPLIED_AT)
    with engine.begin() as connection:
        store_feed_source(connection, source=feed_source_from_inputs(inputs), now=APPLIED_AT)
        tokens = {
            email: issue_token(
                connection,
                subject=FeedSubject(inputs.cohort.id, "person", email),
                now=APPLIED_AT,
            )
            for email in (SANTIAGO_MEMBER, MEXICO_CITY_MEMBER)
        }
    settings = Settings(
        operator_username=USERNAME,
        operator_password=SecretStr(PASSWORD),
        session_secret=SecretStr("e2e-session-secret-" + "s" * 32),
        public_base_url="http://127.0.0.1:8000",
    )
    app = create_app(settings, engine=engine, clock=lambda: NOW)
    with serving(app) as url:
        yield Site(url, engine, inputs, tokens)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        yield _launch(playwright)


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def page(browser: Browser, browser_log: BrowserLog) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)

    def only_this_machine(route: Route, request: Request) -> None:
        host = urllib.parse.urlsplit(request.url).hostname
        if host == "127.0.0.1" or request.url.startswith(("data:", "about:")):
            route.continue_()
        else:
            browser_log.blocked_requests.append(request.url)
            route.abort()

    context.route("**/*", only_this_machine)
    page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            browser_log.console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: browser_log.console_errors.append(str(error)))
    page.on(
        "requestfailed",
        lambda request: browser_log.failed_requests.append(f"{request.url} {request.failure}"),
    )
    yield page
    context.close()
    browser_log.assert_clean()


def _log_in(page: Page, site: Site, path: str = "/ops/") -> None:
    page.goto(f"{site.url}{path}")
    expect(page).to_have_url(re.compile(r"/ops/login\?next="))
    page.fill("#username", USERNAME)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    expect(page).to_have_url(f"{site.url}{path}")


def _rows(page: Page) -> list[str]:
    cities = page.locator("svg.timeline g.row").evaluate_all(
        "groups => groups.map(g => g.dataset.city)"
    )
    return [str(c) for c in cities]


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_operator_pages_need_a_login(page: Page, site: Site, browser_log: BrowserLog) -> None:
    for path in ("/ops/", "/ops/outbox", "/ops/deliverables", "/ops/cities/santiago"):
        response = page.goto(f"{site.url}{path}")
        assert response is not None and response.ok
        expect(page).to_have_url(f"{site.url}/ops/login?next={urllib.parse.quote(path, safe='')}")
        expect(page.locator("h1")).to_have_text("Log in")
        expect(page.locator("svg.timeline")).to_have_count(0)
    api = page.request.post(f"{site.url}/ops/outbox/1/retry", form={"csrf_token": "x"})
    assert api.status == 401

    page.fill("#username", USERNAME)
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("p.error")).to_have_text("Wrong username or password.")
    # The refused login answers 401, which Chromium reports on the console: that one is expected.
    assert browser_log.console_errors == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
    browser_log.console_errors.clear()


def test_the_timeline_shows_every_city_and_filters(page: Page, site: Site) -> None:
    _log_in(page, site)
    expected = {city.id for city in site.inputs.cohort.cities}
    expect(page.locator("svg.timeline g.row")).to_have_count(len(expected))
    assert set(_rows(page)) == expected
    expect(page.locator("svg.timeline g.today")).to_have_attribute(
        "data-now", "2024-09-01T00:00:00Z"
    )
    expect(page.locator("svg.legend g.legend-kind")).to_have_count(6)
    _screenshot(page, "timeline.png")

    with page.expect_navigation():
        page.select_option("#filter-city", "santiago")  # the form submits itself on change
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query) == {"city": ["santiago"]}
    assert _rows(page) == ["santiago"]

    with page.expect_navigation():
        page.select_option("#filter-kind", "masterclass")
    assert _rows(page) == ["santiago"]
    kinds = page.locator("svg.timeline rect.session").evaluate_all(
        "marks => marks.map(m => m.dataset.kind)"
    )
    with site.engine.connect() as connection:
        masterclasses = connection.execute(
            sa.select(sa.func.count()).select_from(SESSION).where(SESSION.c.kind == "masterclass")
        ).scalar_one()
    assert kinds == ["masterclass"] * masterclasses


def test_a_city_opens_from_its_row(page: Page, site: Site) -> None:
    _log_in(page, site)
    with page.expect_navigation():
        page.locator("svg.timeline g.row[data-city='santiago'] a").click()
    expect(page).to_have_url(f"{site.url}/ops/cities/santiago?cohort=cda-2024")
    expect(page.locator("h1")).to_contain_text("Santiago")
    with site.engine.connect() as connection:
        deliverables = connection.execute(
            sa.text("SELECT count(*) FROM deliverable WHERE city_id = 'santiago'")
        ).scalar_one()
    expect(page.locator("tr[data-deliverable]")).to_have_count(deliverables)
    expect(page.locator("svg.timeline g.row")).to_have_count(1)


def test_a_failed_message_is_retried_with_its_button(page: Page, site: Site) -> None:
    error = "550 5.1.1 <t.herrera@santiago.example.org>: mailbox unavailable"
    with site.engine.begin() as connection:
        message = (
            connection.execute(
                sa.select(OUTBOX.c.id)
                .where(OUTBOX.c.email == SANTIAGO_MEMBER)
                .order_by(OUTBOX.c.id)
            )
            .scalars()
            .first()
        )
        connection.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == message)
            .values(status="failed", last_error=error, attempts=12)
        )
    _log_in(page, site, "/ops/outbox")
    row = page.locator(f"tr[data-message='{message}']")
    expect(row).to_contain_text(error)
    with page.expect_navigation():
        row.get_by_role("button", name="Retry").click()
    expect(page.locator("p.notice")).to_contain_text(f"Message {message} is back in the queue")
    expect(page.locator(f"tr[data-message='{message}']")).to_have_count(0)
    with site.engine.connect() as connection:
        status, last_error = connection.execute(
            sa.select(OUTBOX.c.status, OUTBOX.c.last_error).where(OUTBOX.c.id == message)
        ).one()
    assert (status, last_error) == ("pending", None)


def test_personal_pages_show_the_same_masterclass_at_each_members_time(
    page: Page, site: Site
) -> None:
    with site.engine.connect() as connection:
        key, starts_at, ends_at = connection.execute(
            sa.select(SESSION.c.key, SESSION.c.starts_at, SESSION.c.ends_at)
            .where(SESSION.c.kind == "masterclass")
            .where(SESSION.c.starts_at >= dt.datetime(2024, 9, 10, tzinfo=dt.UTC))
            .order_by(SESSION.c.starts_at)
        ).first()
    # The program's 12:00 New York masterclass of 10 September, as the data says.
    assert starts_at.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M") == (
        "2024-09-10 12:00"
    )
    uid = uid_for(key, site.inputs.program.id)
    shown: dict[str, str] = {}
    for email, zone, label in (
        (SANTIAGO_MEMBER, "America/Santiago", "hora de Santiago"),
        (MEXICO_CITY_MEMBER, "America/Mexico_City", "hora de Ciudad de México"),
    ):
        page.goto(f"{site.url}/me/{site.tokens[email]}")
        expect(page.locator("html")).to_have_attribute("lang", "es")
        when = page.locator(f"li[data-uid='{uid}'] .when").inner_text()
        start, end = starts_at.astimezone(ZoneInfo(zone)), ends_at.astimezone(ZoneInfo(zone))
        assert f"{start:%H:%M}–{end:%H:%M}" in when and label in when
        shown[zone] = f"{start:%H:%M}"
        token = site.tokens[email]
        expect(page.locator("#webcal-link")).to_have_attribute(
            "href", f"webcal://127.0.0.1:8000/calendars/{token}.ics"
        )
        expect(page.locator("#feed-url")).to_have_value(
            f"http://127.0.0.1:8000/calendars/{token}.ics"
        )
        others = [c.name for c in site.inputs.cohort.cities if c.id != _city_of(site, email)]
        text = page.locator("main").inner_text()
        assert [name for name in others if re.search(rf"\b{re.escape(name)}\b", text)] == []
        if zone == "America/Santiago":
            _screenshot(page, "personal-santiago.png")
    # Chile moved to UTC−3 on 8 September; Mexico City stays at UTC−6.
    assert shown == {"America/Santiago": "13:00", "America/Mexico_City": "10:00"}


def _city_of(site: Site, email: str) -> str:
    return next(c.id for c in site.inputs.cohort.cities if any(p.email == email for p in c.team))
