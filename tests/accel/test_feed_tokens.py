"""Feed tokens: unguessable, stored only as a hash, rotatable, one live token per subject."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from accel.database import make_engine
from accel.feed_tokens import (
    FeedSubject,
    feed_urls,
    find_subject,
    is_well_formed,
    issue_missing_tokens,
    issue_token,
    rotate_token,
    subjects_with_tokens,
)
from cli.main import app
from models.feed_tokens import FEED_TOKEN

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
TOMAS = FeedSubject("test-small", "person", "t.herrera@santiago.example.org")
SANTIAGO = FeedSubject("test-small", "city", "santiago")
runner = CliRunner()


def _stored(engine: sa.Engine) -> list[tuple[str, str, dt.datetime | None]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(FEED_TOKEN).order_by(FEED_TOKEN.c.id))
        return [(r.subject, r.token_hash, r.revoked_at) for r in rows]


def test_only_the_hash_is_stored(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.begin() as connection:
        token = issue_token(connection, subject=TOMAS, now=NOW)
    assert len(token) >= 43 and is_well_formed(token)
    [(subject, stored_hash, revoked)] = _stored(sqlite_engine)
    assert (subject, revoked) == (TOMAS.subject, None)
    assert stored_hash != token and token not in stored_hash
    assert stored_hash == hashlib.sha256(token.encode()).hexdigest()
    with sqlite_engine.connect() as connection:
        assert find_subject(connection, token=token) == TOMAS


def test_tokens_differ_every_time(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.begin() as connection:
        tokens = {rotate_token(connection, subject=TOMAS, now=NOW) for _ in range(20)}
    assert len(tokens) == 20


def test_rotation_invalidates_the_old_token(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.begin() as connection:
        old = issue_token(connection, subject=SANTIAGO, now=NOW)
        new = rotate_token(connection, subject=SANTIAGO, now=NOW + dt.timedelta(days=1))
    with sqlite_engine.connect() as connection:
        assert find_subject(connection, token=old) is None
        assert find_subject(connection, token=new) == SANTIAGO
    assert [revoked for _, _, revoked in _stored(sqlite_engine)] == [
        NOW + dt.timedelta(days=1),
        None,
    ]


def test_one_live_token_per_subject(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.begin() as connection:
        issue_token(connection, subject=TOMAS, now=NOW)
    with pytest.raises(sa.exc.IntegrityError), sqlite_engine.begin() as connection:
        issue_token(connection, subject=TOMAS, now=NOW)


def test_issue_missing_keeps_existing_tokens(sqlite_engine: sa.Engine) -> None:
    with sqlite_engine.begin() as connection:
        first = issue_missing_tokens(connection, cohort_id="test-small", subjects=[TOMAS], now=NOW)
        second = issue_missing_tokens(
            connection, cohort_id="test-small", subjects=[TOMAS, SANTIAGO], now=NOW
        )
        assert set(first) == {TOMAS} and set(second) == {SANTIAGO}
        assert subjects_with_tokens(connection, cohort_id="test-small") == {TOMAS, SANTIAGO}
        assert find_subject(connection, token=first[TOMAS]) == TOMAS


@pytest.mark.parametrize(
    "token", ["", "short", "A" * 42, "A" * 44, "A" * 42 + "=", "A" * 42 + "/", "Ä" * 43]
)
def test_malformed_tokens_never_reach_the_database(token: str) -> None:
    assert not is_well_formed(token)
    # A closed connection would raise on any query: the check comes first.
    engine = sa.create_engine("sqlite://")
    connection = engine.connect()
    connection.close()
    assert find_subject(connection, token=token) is None


def test_feed_urls() -> None:
    assert feed_urls("https://cal.example.org", "T") == (
        "https://cal.example.org/calendars/T.ics",
        "webcal://cal.example.org/calendars/T.ics",
    )
    assert feed_urls("http://127.0.0.1:8000/", "T")[1] == "webcal://127.0.0.1:8000/calendars/T.ics"


def test_feeds_command_shows_new_urls_once_and_rotate_replaces_one(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCEL_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ACCEL_PUBLIC_BASE_URL", "https://cal.example.org")
    cohort = ["--cohort", "tests/data/cohorts/small.yaml", "--now", "2024-05-01T00:00Z"]
    never_applied = runner.invoke(app, ["feeds", *cohort])
    assert never_applied.exit_code == 1 and "never applied" in never_applied.stderr
    assert runner.invoke(app, ["apply", *cohort]).exit_code == 0

    first = runner.invoke(app, ["feeds", *cohort])
    assert first.exit_code == 0, first.output
    urls = re.findall(r"https://cal\.example\.org/calendars/([\w-]+)\.ics", first.stdout)
    webcals = re.findall(r"webcal://cal\.example\.org/calendars/([\w-]+)\.ics", first.stdout)
    assert len(urls) == 18 and webcals == urls  # 15 people and 3 cities
    pages = re.findall(r"page: https://cal\.example\.org/(me|city)/([\w-]+)$", first.stdout, re.M)
    assert [token for _, token in pages] == urls  # the same secret opens the page
    assert sorted(kind for kind, _ in pages) == ["city"] * 3 + ["me"] * 15
    second = runner.invoke(app, ["feeds", *cohort])
    assert "calendars/" not in second.stdout
    assert "0 new feed URL(s), 18 existing" in second.stdout
    assert "rotate to get a new URL" in second.stdout

    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        owners = {t: find_subject(connection, token=t) for t in urls}
    old = next(t for t, s in owners.items() if s is not None and s.subject == TOMAS.subject)
    rotated = runner.invoke(app, ["feeds", "rotate", "--person", TOMAS.subject, *cohort])
    assert rotated.exit_code == 0, rotated.output
    [new] = re.findall(r"https://cal\.example\.org/calendars/([\w-]+)\.ics", rotated.stdout)
    with engine.connect() as connection:
        assert find_subject(connection, token=old) is None
        assert find_subject(connection, token=new) == TOMAS
    assert runner.invoke(app, ["feeds", "rotate", *cohort]).exit_code == 2
    unknown = runner.invoke(app, ["feeds", "rotate", "--city", "lima", *cohort])
    assert unknown.exit_code == 2 and "no active city 'lima'" in unknown.stderr
    engine.dispose()
