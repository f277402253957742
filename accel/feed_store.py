"""Reading the rows subscription feeds are built from, and building their bytes and versions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from calendars.feed_content import (
    FeedContent,
    FeedInvitation,
    FeedPerson,
    FeedSession,
    FeedSource,
    city_feed,
    cohort_feed,
    person_feed,
)
from calendars.feeds import build_feed, feed_etag
from models.feed_tokens import FEED_SOURCE
from models.tables import INVITATION, PERSON, SESSION

# Only the public columns: nothing else can leak into a feed by accident.
_SESSION_COLUMNS = (
    SESSION.c.key,
    SESSION.c.city_id,
    SESSION.c.title,
    SESSION.c.description,
    SESSION.c.location,
    SESSION.c.meeting_url,
    SESSION.c.starts_at,
    SESSION.c.ends_at,
    SESSION.c.reminders,
    SESSION.c.sequence,
    SESSION.c.status,
    SESSION.c.changed_at,
)
_INVITATION_COLUMNS = (
    INVITATION.c.session_key,
    INVITATION.c.email,
    INVITATION.c.status,
    INVITATION.c.sequence,
    INVITATION.c.changed_at,
)
_PERSON_COLUMNS = (
    PERSON.c.email,
    PERSON.c.name,
    PERSON.c.language,
    PERSON.c.city_id,
    PERSON.c.active,
    PERSON.c.changed_at,
)


@dataclass(frozen=True)
class FeedRows:
    """The stored rows one or more feeds are built from."""

    sessions: dict[str, FeedSession]
    invitations: list[FeedInvitation]
    people: dict[str, FeedPerson]


@dataclass(frozen=True)
class BuiltFeed:
    """A feed's bytes and HTTP validators.

    `valid_until`: when the earliest cancelled event still shown ends; from then on `now` drops
    it, so the bytes change without any row changing.
    """

    body: bytes
    etag: str
    last_modified: dt.datetime | None
    valid_until: dt.datetime | None


def cohort_applied(connection: sa.Connection, *, cohort_id: str) -> bool:
    """Whether `apply` ever wrote this cohort (it always writes sessions)."""
    found = connection.execute(
        sa.select(SESSION.c.key).where(SESSION.c.cohort_id == cohort_id).limit(1)
    ).first()
    return found is not None


def load_cohort_rows(connection: sa.Connection, *, cohort_id: str) -> FeedRows:
    """Everything of a cohort in three bulk queries: enough for every feed of it."""
    return FeedRows(
        sessions=_sessions(connection, SESSION.c.cohort_id == cohort_id),
        invitations=_invitations(connection, INVITATION.c.cohort_id == cohort_id),
        people=_people(connection, PERSON.c.cohort_id == cohort_id),
    )


def load_person_rows(connection: sa.Connection, *, cohort_id: str, email: str) -> FeedRows:
    theirs = _person_invitations(cohort_id, email)
    invited = sa.select(INVITATION.c.session_key).where(theirs)
    return FeedRows(
        sessions=_sessions(connection, SESSION.c.key.in_(invited)),
        invitations=_invitations(connection, theirs),
        people=_people(connection, (PERSON.c.cohort_id == cohort_id) & (PERSON.c.email == email)),
    )


def load_city_rows(connection: sa.Connection, *, cohort_id: str, city_id: str) -> FeedRows:
    theirs = _members_invitations(cohort_id, city_id)
    shared = sa.select(INVITATION.c.session_key).where(theirs)
    own = (unindexed(SESSION.c.cohort_id) == cohort_id) & (SESSION.c.city_id == city_id)
    # Two queries rather than one with OR, which would make SQLite scan the whole cohort.
    sessions = _sessions(connection, own) | _sessions(connection, SESSION.c.key.in_(shared))
    return FeedRows(
        sessions=sessions,
        invitations=_invitations(connection, theirs),
        people=_people(connection, _members(cohort_id, city_id)),
    )


def _members(cohort_id: str, city_id: str) -> Any:
    return (unindexed(PERSON.c.cohort_id) == cohort_id) & (PERSON.c.city_id == city_id)


def _members_invitations(cohort_id: str, city_id: str) -> Any:
    members = sa.select(PERSON.c.email).where(_members(cohort_id, city_id))
    return (unindexed(INVITATION.c.cohort_id) == cohort_id) & INVITATION.c.email.in_(members)


def _person_invitations(cohort_id: str, email: str) -> Any:
    return (unindexed(INVITATION.c.cohort_id) == cohort_id) & (INVITATION.c.email == email)


class unindexed(ColumnElement[Any]):  # noqa: N801 - used like a SQL function
    """A column SQLite may not look up by index (written `+column`, a documented no-op).

    Without statistics SQLite ties between the cohort index and the selective one (email,
    city) and may walk every row of the cohort: 20 ms instead of 0.2 ms at 1,000 cities.
    """

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, column: sa.Column[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.column, **kw)}"


def _sessions(connection: sa.Connection, where: Any) -> dict[str, FeedSession]:
    return {
        row.key: FeedSession(
            key=row.key,
            city_id=row.city_id,
            title=row.title,
            description=row.description,
            location=row.location,
            meeting_url=row.meeting_url,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            reminders=tuple(row.reminders),
            sequence=row.sequence,
            status=row.status,
            changed_at=row.changed_at,
        )
        for row in connection.execute(sa.select(*_SESSION_COLUMNS).where(where))
    }


def _invitations(connection: sa.Connection, where: Any) -> list[FeedInvitation]:
    return [
        FeedInvitation(row.session_key, row.email, row.status, row.sequence, row.changed_at)
        for row in connection.execute(sa.select(*_INVITATION_COLUMNS).where(where))
    ]


def _people(connection: sa.Connection, where: Any) -> dict[str, FeedPerson]:
    return {
        row.email: FeedPerson(
            row.email, row.name, row.language, row.city_id, row.changed_at, row.active
        )
        for row in connection.execute(sa.select(*_PERSON_COLUMNS).where(where))
    }


def render_feed(content: FeedContent, *, source: FeedSource, now: dt.datetime) -> BuiltFeed:
    """The bytes (past cancelled events dropped at `now`) and their validators."""
    body = build_feed(content.events, name=content.name, refresh=source.refresh, now=now)
    still_shown = [e.ends_at for e in content.events if e.cancelled and e.ends_at > now]
    return BuiltFeed(body, feed_etag(body), content.last_modified, min(still_shown, default=None))


def build_person_feed(
    connection: sa.Connection, *, source: FeedSource, email: str, now: dt.datetime
) -> BuiltFeed | None:
    """A person's feed, or None if the cohort has no such person."""
    rows = load_person_rows(connection, cohort_id=source.cohort_id, email=email)
    person = rows.people.get(email)
    if person is None:
        return None
    content = person_feed(source, person, rows.sessions, rows.invitations)
    return render_feed(content, source=source, now=now)


def build_city_feed(
    connection: sa.Connection, *, source: FeedSource, city_id: str, now: dt.datetime
) -> BuiltFeed | None:
    """A city's feed, or None if the cohort has no such city."""
    if city_id not in source.cities:
        return None
    rows = load_city_rows(connection, cohort_id=source.cohort_id, city_id=city_id)
    content = city_feed(source, city_id, rows.sessions, rows.invitations, rows.people)
    return render_feed(content, source=source, now=now)


def every_feed(
    rows: FeedRows, *, source: FeedSource, now: dt.datetime
) -> Iterator[tuple[str, str, BuiltFeed]]:
    """(kind, subject, feed) for the cohort, each city and each person, from bulk rows.

    Removed people too: their feed shows their sessions cancelled until those end.
    """
    yield (
        "cohort",
        source.cohort_id,
        render_feed(cohort_feed(source, rows.sessions), source=source, now=now),
    )
    for city_id in sorted(source.cities):
        content = city_feed(source, city_id, rows.sessions, rows.invitations, rows.people)
        yield "city", city_id, render_feed(content, source=source, now=now)
    for email in sorted(rows.people):
        content = person_feed(source, rows.people[email], rows.sessions, rows.invitations)
        yield "person", email, render_feed(content, source=source, now=now)


def active_people(rows: FeedRows) -> list[str]:
    """The people still in the cohort (a removed person's row stays, inactive)."""
    return sorted(email for email, person in rows.people.items() if person.active)


def feed_version(
    connection: sa.Connection, *, cohort_id: str, subject_type: str, subject: str
) -> tuple[Any, ...]:
    """A cheap fingerprint of every row a feed reads: (count, latest change) per table, one query.

    Rows are never deleted and every write stamps `changed_at`, so an unchanged version
    means unchanged rows.
    """
    joined = INVITATION.join(SESSION, SESSION.c.key == INVITATION.c.session_key)
    columns = [
        sa.func.count(),
        sa.func.max(INVITATION.c.changed_at),
        sa.func.max(SESSION.c.changed_at),
    ]
    source = sa.select(FEED_SOURCE.c.changed_at).where(FEED_SOURCE.c.cohort_id == cohort_id)
    if subject_type == "person":
        person = (PERSON.c.cohort_id == cohort_id) & (PERSON.c.email == subject)
        invitations = _person_invitations(cohort_id, subject)
        extra = [sa.select(sa.func.max(PERSON.c.changed_at)).where(person), source]
    else:
        own = (unindexed(SESSION.c.cohort_id) == cohort_id) & (SESSION.c.city_id == subject)
        members = _members(cohort_id, subject)
        invitations = _members_invitations(cohort_id, subject)
        extra = [
            sa.select(sa.func.count()).select_from(SESSION).where(own),
            sa.select(sa.func.max(SESSION.c.changed_at)).where(own),
            sa.select(sa.func.count()).select_from(PERSON).where(members),
            sa.select(sa.func.max(PERSON.c.changed_at)).where(members),
            source,
        ]
    # Subqueries are uncorrelated on purpose: SESSION is also in the outer join.
    query = (
        sa.select(*columns, *(_scalars(q) for q in extra)).select_from(joined).where(invitations)
    )
    return tuple(connection.execute(query).one())


def _scalars(query: sa.Select[Any]) -> Any:
    return query.correlate(None).scalar_subquery()
