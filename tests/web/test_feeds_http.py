"""The feed server over real HTTP (uvicorn in a thread, a SQLite file): bodies, 304, 404, logs."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from accel.feed_source import feed_source_from_inputs, store_feed_source
from accel.feed_tokens import FeedSubject, issue_missing_tokens, issue_token, rotate_token
from accel.inputs import load_inputs
from calendars.feeds import feed_etag
from calendars.timeline_types import uid_for
from tasks.operations import apply_cohort, override_sessions
from web.app import create_app
from web.thread_server import serving

TOMAS = "t.herrera@santiago.example.org"
IGNACIO = "i.vera@santiago.example.org"
SANTIAGO_PEOPLE = (
    "mayor@santiago.example.org",
    TOMAS,
    "c.soto@santiago.example.org",
    IGNACIO,
)
PROGRAM = "cda-accelerator"
APPLIED_AT = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)  # when the fixture applied the cohort
COHORT = "test-small"


@dataclass
class SettableClock:
    """The server's clock: fixed, moved only by the test."""

    now: dt.datetime = dt.datetime(2024, 5, 2, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class FeedServer:
    url: str
    app: FastAPI
    engine: sa.Engine
    cohort: Path
    clock: SettableClock
    statements: list[str] = field(default_factory=list)  # SQL the server ran, in order

    def token(self, subject_type: str, subject: str, *, now: dt.datetime = APPLIED_AT) -> str:
        """A fresh token for a subject, issued as `accel feeds` does (feed source stored too)."""
        with self.engine.begin() as connection:
            source = feed_source_from_inputs(load_inputs(self.cohort))
            store_feed_source(connection, source=source, now=now)
            return issue_token(
                connection, subject=FeedSubject(COHORT, subject_type, subject), now=now
            )

    def get(self, token: str, **headers: str) -> httpx.Response:
        return httpx.get(f"{self.url}/calendars/{token}.ics", headers=headers, timeout=30)

    def apply(self, now: dt.datetime) -> bool:
        """Apply the (possibly edited) workspace cohort; True if anything changed."""
        return not apply_cohort(self.engine, load_inputs(self.cohort), now=now).is_empty


@pytest.fixture
def feed_server(sqlite_engine: sa.Engine, workspace: Path) -> Iterator[FeedServer]:
    cohort = workspace / "cohorts" / "small.yaml"
    apply_cohort(sqlite_engine, load_inputs(cohort), now=APPLIED_AT)
    clock = SettableClock()
    app = create_app(engine=sqlite_engine, clock=clock)
    statements: list[str] = []

    @sa.event.listens_for(sqlite_engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with serving(app) as url:
        yield FeedServer(url, app, sqlite_engine, cohort, clock, statements)
    sa.event.remove(sqlite_engine, "before_cursor_execute", _record)


def _events(body: bytes) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).events}


def _invited_uids(engine: sa.Engine, email: str) -> set[str]:
    with engine.connect() as connection:
        keys = connection.execute(
            sa.text("SELECT session_key FROM invitation WHERE email = :email"), {"email": email}
        ).scalars()
        return {uid_for(key, PROGRAM) for key in keys}


def _other_cities_only_uids(engine: sa.Engine, city: str) -> set[str]:
    with engine.connect() as connection:
        keys = connection.execute(
            sa.text("SELECT key FROM session WHERE city_id IS NOT NULL AND city_id != :city"),
            {"city": city},
        ).scalars()
        return {uid_for(key, PROGRAM) for key in keys}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_person_feed_has_exactly_their_sessions(feed_server: FeedServer) -> None:
    token = feed_server.token("person", TOMAS)
    response = feed_server.get(token)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, max-age=300"
    assert response.headers["etag"] == feed_etag(response.content)
    last_modified = email.utils.parsedate_to_datetime(response.headers["last-modified"])
    assert last_modified == APPLIED_AT
    events = _events(response.content)
    expected = _invited_uids(feed_server.engine, TOMAS)
    assert len(expected) == 31 and set(events) == expected
    assert all(str(e["STATUS"]) == "CONFIRMED" for e in events.values())
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["X-WR-CALNAME"]) == "Acelerador City Data Alliance — Tomás Herrera"
    # Spanish for a Spanish speaker; no address of anyone.
    assert "Sesión de coaching" in {str(e["SUMMARY"]) for e in events.values()}
    for word in (b"METHOD", b"ATTENDEE", b"ORGANIZER", b"mailto:", b"example.org\r\n"):
        assert word not in response.content


def test_head_gives_the_headers_without_body(feed_server: FeedServer) -> None:
    token = feed_server.token("person", TOMAS)
    full = feed_server.get(token)
    head = httpx.head(f"{feed_server.url}/calendars/{token}.ics", timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == full.headers["etag"]


def test_not_modified_on_matching_etag_or_date(feed_server: FeedServer) -> None:
    token = feed_server.token("city", "santiago")
    first = feed_server.get(token)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]

    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-Modified-Since": last_modified},
        {"If-Modified-Since": "Thu, 02 May 2024 00:00:00 GMT"},
    ):
        response = feed_server.get(token, **headers)
        assert response.status_code == 304, headers
        assert response.content == b""
        assert response.headers["etag"] == etag

    for headers in (
        {"If-None-Match": '"other"'},
        # If-None-Match decides when present, even with a matching date.
        {"If-None-Match": '"other"', "If-Modified-Since": last_modified},
        {"If-Modified-Since": "Tue, 30 Apr 2024 23:59:59 GMT"},
        {"If-Modified-Since": "not a date"},
    ):
        response = feed_server.get(token, **headers)
        assert response.status_code == 200, headers
        assert response.content == first.content


def test_unknown_revoked_and_malformed_tokens_are_the_same_404(
    feed_server: FeedServer,
) -> None:
    token = feed_server.token("person", TOMAS)
    assert feed_server.get(token).status_code == 200
    with feed_server.engine.begin() as connection:
        new = rotate_token(connection, subject=FeedSubject(COHORT, "person", TOMAS), now=APPLIED_AT)
    unknown = "A" * 43
    responses = [feed_server.get(t) for t in (token, unknown)]
    feed_server.statements.clear()
    malformed = ["short", "A" * 42, "A" * 44, "A" * 42 + ".", "A" * 42 + "%2F", token + "x"]
    responses += [feed_server.get(t) for t in malformed]
    assert feed_server.statements == []  # a malformed token never reaches the database
    responses.append(httpx.get(f"{feed_server.url}/calendars/", timeout=30))
    for response in responses:
        assert response.status_code == 404
        assert response.content == b"Not Found\n"
        assert "etag" not in response.headers and "last-modified" not in response.headers
    assert feed_server.get(new).status_code == 200


def test_santiago_tokens_never_show_other_cities_sessions(feed_server: FeedServer) -> None:
    elsewhere = _other_cities_only_uids(feed_server.engine, "santiago")
    assert any("coaching.asuncion" in uid for uid in elsewhere)
    tokens = [feed_server.token("person", email) for email in SANTIAGO_PEOPLE]
    tokens.append(feed_server.token("city", "santiago"))
    for token in tokens:
        uids = set(_events(feed_server.get(token).content))
        assert uids and not uids & elsewhere
    city = _events(feed_server.get(tokens[-1]).content)
    assert "test-small.coaching.santiago.01@cda-accelerator.accelerator" in city
    assert "test-small.masterclass.01@cda-accelerator.accelerator" in city


def test_same_bytes_twice_and_after_a_no_op_apply(feed_server: FeedServer) -> None:
    token = feed_server.token("person", TOMAS)
    first = feed_server.get(token)
    builds = feed_server.app.state.feed_cache.builds
    assert feed_server.get(token).content == first.content
    assert not feed_server.apply(APPLIED_AT + dt.timedelta(days=3))
    again = feed_server.get(token)
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["last-modified"] == first.headers["last-modified"]
    assert feed_server.app.state.feed_cache.builds == builds  # served from the cache


def test_a_change_gives_new_bytes_and_a_later_last_modified(feed_server: FeedServer) -> None:
    token = feed_server.token("person", TOMAS)
    before = feed_server.get(token)
    program = feed_server.cohort.parent.parent / "programs" / "cda-accelerator.yaml"
    _edit(program, 'times: ["12:00"]', 'times: ["13:00"]')
    changed_at = APPLIED_AT + dt.timedelta(days=3)
    assert feed_server.apply(changed_at)
    after = feed_server.get(token, **{"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert email.utils.parsedate_to_datetime(after.headers["last-modified"]) == changed_at
    masterclass = _events(after.content)["test-small.masterclass.01@cda-accelerator.accelerator"]
    assert masterclass["SEQUENCE"] == 1
    assert changed_at == masterclass.DTSTAMP
    revalidated = feed_server.get(token, **{"If-Modified-Since": before.headers["last-modified"]})
    assert revalidated.status_code == 200


def test_cancelled_sessions_leave_the_feed_once_ended(feed_server: FeedServer) -> None:
    token = feed_server.token("person", TOMAS)
    override_sessions(
        feed_server.engine,
        load_inputs(feed_server.cohort),
        pattern="test-small/coaching/santiago/*",
        now=APPLIED_AT + dt.timedelta(days=1),
        cancel=True,
    )
    events = _events(feed_server.get(token).content)
    cancelled = {uid for uid, e in events.items() if str(e["STATUS"]) == "CANCELLED"}
    assert cancelled and all(".coaching.santiago." in uid for uid in cancelled)
    # Once they have ended, cancellations leave the feed, though no row changed since.
    builds = feed_server.app.state.feed_cache.builds
    feed_server.clock.now = dt.datetime(2024, 9, 1, tzinfo=dt.UTC)
    later = _events(feed_server.get(token).content)
    still_cancelled = {uid for uid, e in later.items() if str(e["STATUS"]) == "CANCELLED"}
    assert 0 < len(still_cancelled) < len(cancelled)
    assert all(later[uid].end > feed_server.clock.now for uid in still_cancelled)
    assert feed_server.app.state.feed_cache.builds == builds + 1


def test_a_removed_persons_feed_and_page_answer_404_from_the_apply(
    feed_server: FeedServer,
) -> None:
    token = feed_server.token("person", IGNACIO)
    city = feed_server.token("city", "santiago")
    feed, page = f"{feed_server.url}/calendars/{token}.ics", f"{feed_server.url}/me/{token}"
    for _ in range(2):  # the second answer comes from the feed cache
        assert httpx.get(feed, timeout=30).status_code == 200
        assert httpx.get(page, timeout=30).status_code == 200
    unknown = httpx.get(f"{feed_server.url}/calendars/{'A' * 43}.ics", timeout=30)
    _edit(
        feed_server.cohort,
        "{name: Ignacio Vera, email: i.vera@santiago.example.org",
        "{name: Inés Vidal, email: i.vidal@santiago.example.org",
    )
    assert feed_server.apply(APPLIED_AT + dt.timedelta(days=1))
    committed = time.monotonic()
    gone = [httpx.get(feed, timeout=30), httpx.get(page, timeout=30)]
    assert time.monotonic() - committed < 1.0  # at once: the cache is never asked first
    for response in gone:
        assert response.status_code == 404
        assert response.content == unknown.content
        assert "etag" not in response.headers and "last-modified" not in response.headers
    assert feed_server.get(city).status_code == 200  # the city's own token is untouched

    # Back in the team: the old URL stays dead; `accel feeds` gives them a new one.
    _edit(
        feed_server.cohort,
        "{name: Inés Vidal, email: i.vidal@santiago.example.org",
        "{name: Ignacio Vera, email: i.vera@santiago.example.org",
    )
    assert feed_server.apply(APPLIED_AT + dt.timedelta(days=2))
    with feed_server.engine.begin() as connection:
        issued = issue_missing_tokens(
            connection,
            cohort_id=COHORT,
            subjects=[
                FeedSubject(COHORT, "person", IGNACIO),
                FeedSubject(COHORT, "city", "santiago"),
            ],
            now=APPLIED_AT + dt.timedelta(days=2),
        )
    assert list(issued) == [FeedSubject(COHORT, "person", IGNACIO)]
    assert feed_server.get(token).status_code == 404
    assert feed_server.get(issued[FeedSubject(COHORT, "person", IGNACIO)]).status_code == 200


def test_a_removed_citys_feed_and_team_page_answer_404_from_the_apply(
    feed_server: FeedServer,
) -> None:
    asuncion, santiago = (
        feed_server.token("city", "asuncion"),
        feed_server.token("city", "santiago"),
    )
    member = feed_server.token("person", "l.gimenez@asuncion.example.org")
    assert feed_server.get(asuncion).status_code == 200
    text = feed_server.cohort.read_text()
    start, end = text.index("  - id: asuncion\n"), text.index("  - id: mexico-city\n")
    feed_server.cohort.write_text(text[:start] + text[end:])
    assert feed_server.apply(APPLIED_AT + dt.timedelta(days=1))
    for path in (f"/calendars/{asuncion}.ics", f"/city/{asuncion}", f"/calendars/{member}.ics"):
        assert httpx.get(feed_server.url + path, timeout=30).status_code == 404, path
    assert feed_server.get(santiago).status_code == 200


def test_tokens_never_reach_the_logs(
    feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = feed_server.token("person", TOMAS)
    assert feed_server.get(token).status_code == 200
    assert feed_server.get("A" * 43).status_code == 404
    assert httpx.get(f"{feed_server.url}/healthz", timeout=30).status_code == 200

    def server_log() -> str:
        # What the server logged (the test's own httpx client logs URLs too: not the server's doing).
        return "\n".join(
            r.getMessage() for r in caplog.records if r.name.split(".")[0] in ("uvicorn", "accel")
        )

    # The access line is written just after the response is sent: wait for it, bounded.
    deadline = time.monotonic() + 10
    while "GET /healthz 200" not in server_log() and time.monotonic() < deadline:
        time.sleep(0.01)
    server = server_log()
    assert token not in server and "A" * 43 not in server
    assert "GET /calendars/<redacted> 200" in server
    assert "GET /calendars/<redacted> 404" in server
    assert "GET /healthz 200" in server
