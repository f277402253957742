"""What the operator pages read: cohorts, cities, each city's sessions and people, the outbox."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from models.enums import RecordStatus
from models.outbox import OUTBOX, MessageStatus
from models.tables import (
    CITY,
    INVITATION,
    PERSON,
    SESSION,
)

SCHEDULED = RecordStatus.SCHEDULED.value
OUTBOX_WINDOW = dt.timedelta(days=7)
MESSAGES_LISTED = 100
FAILED_LISTED = 200


@dataclass(frozen=True)
class CityInfo:
    id: str
    name: str
    country: str
    timezone: str
    language: str
    coach_email: str
    mayor_email: str


@dataclass(frozen=True)
class SessionInfo:
    key: str
    kind: str
    city_id: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    timezone: str
    title: Mapping[str, str]
    location: str
    meeting_url: str | None


@dataclass(frozen=True)
class PersonInfo:
    email: str
    name: str
    role: str
    language: str
    timezone: str


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    city_id: str | None
    email: str
    subject_key: str | None
    send_at: dt.datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class OutboxSummary:
    """Pending messages due in [start, end), counted by (city, kind); and the failed ones."""

    start: dt.datetime
    end: dt.datetime
    counts: Counter[tuple[str | None, str]]
    already_due: int  # pending with a send time before `start`: the next dispatch sends them
    upcoming: list[OutboxRow]  # the first MESSAGES_LISTED of the window
    failed: list[OutboxRow]  # the latest FAILED_LISTED
    failed_total: int


def cohort_ids(connection: sa.Connection) -> list[str]:
    """Applied cohorts, the most recently applied first."""
    latest = sa.func.max(CITY.c.changed_at)
    rows = connection.execute(
        sa.select(CITY.c.cohort_id, latest).group_by(CITY.c.cohort_id).order_by(latest.desc())
    )
    return [row[0] for row in rows]


def load_cities(connection: sa.Connection, *, cohort_id: str) -> list[CityInfo]:
    """The cohort's cities, by name."""
    rows = connection.execute(
        sa.select(CITY).where(CITY.c.cohort_id == cohort_id).order_by(CITY.c.name, CITY.c.id)
    )
    return [
        CityInfo(r.id, r.name, r.country, r.timezone, r.language, r.coach_email, r.mayor_email)
        for r in rows
    ]


def city_sessions(connection: sa.Connection, *, cohort_id: str) -> dict[str, list[SessionInfo]]:
    """Per city id, the scheduled sessions it takes part in: its own, and the cohort and group
    sessions any of its people is invited to; by start time."""
    sessions = {
        row.key: _session(row)
        for row in connection.execute(
            sa.select(SESSION)
            .where(SESSION.c.cohort_id == cohort_id)
            .where(SESSION.c.status == SCHEDULED)
        )
    }
    taking_part: dict[str, set[str]] = {}
    for session in sessions.values():
        if session.city_id is not None:
            taking_part.setdefault(session.city_id, set()).add(session.key)
    invited = (
        sa.select(INVITATION.c.session_key, PERSON.c.city_id)
        .distinct()
        .join(
            PERSON,
            (PERSON.c.cohort_id == INVITATION.c.cohort_id) & (PERSON.c.email == INVITATION.c.email),
        )
        .where(INVITATION.c.cohort_id == cohort_id)
        .where(INVITATION.c.status == SCHEDULED)
        .where(PERSON.c.city_id.is_not(None))
    )
    for key, city_id in connection.execute(invited):
        if key in sessions:
            taking_part.setdefault(city_id, set()).add(key)
    return {
        city_id: sorted((sessions[k] for k in keys), key=lambda s: (s.starts_at, s.key))
        for city_id, keys in taking_part.items()
    }


def city_people(connection: sa.Connection, *, cohort_id: str, city_id: str) -> list[PersonInfo]:
    """The city's active people, mayor first."""
    rows = connection.execute(
        sa.select(PERSON)
        .where(PERSON.c.cohort_id == cohort_id)
        .where(PERSON.c.city_id == city_id)
        .where(PERSON.c.active.is_(True))
        .order_by(PERSON.c.role != "mayor", PERSON.c.name)
    )
    return [PersonInfo(r.email, r.name, r.role, r.language, r.timezone) for r in rows]


def person_name(connection: sa.Connection, *, cohort_id: str, email: str) -> str | None:
    return connection.execute(
        sa.select(PERSON.c.name).where(PERSON.c.cohort_id == cohort_id, PERSON.c.email == email)
    ).scalar_one_or_none()


def outbox_summary(connection: sa.Connection, *, cohort_id: str, now: dt.datetime) -> OutboxSummary:
    end = now + OUTBOX_WINDOW
    pending = (OUTBOX.c.cohort_id == cohort_id) & (OUTBOX.c.status == MessageStatus.PENDING.value)
    window = pending & (OUTBOX.c.send_at >= now) & (OUTBOX.c.send_at < end)
    counts: Counter[tuple[str | None, str]] = Counter()
    grouped = (
        sa.select(OUTBOX.c.city_id, OUTBOX.c.kind, sa.func.count())
        .where(window)
        .group_by(OUTBOX.c.city_id, OUTBOX.c.kind)
    )
    for city_id, kind, count in connection.execute(grouped):
        counts[(city_id, kind)] = count
    already_due = connection.execute(
        sa.select(sa.func.count()).select_from(OUTBOX).where(pending & (OUTBOX.c.send_at < now))
    ).scalar_one()
    upcoming = connection.execute(
        sa.select(OUTBOX)
        .where(window)
        .order_by(OUTBOX.c.send_at, OUTBOX.c.id)
        .limit(MESSAGES_LISTED)
    )
    is_failed = (OUTBOX.c.cohort_id == cohort_id) & (OUTBOX.c.status == MessageStatus.FAILED.value)
    failed = connection.execute(
        sa.select(OUTBOX)
        .where(is_failed)
        .order_by(OUTBOX.c.send_at.desc(), OUTBOX.c.id)
        .limit(FAILED_LISTED)
    )
    failed_total = connection.execute(
        sa.select(sa.func.count()).select_from(OUTBOX).where(is_failed)
    ).scalar_one()
    return OutboxSummary(
        start=now,
        end=end,
        counts=counts,
        already_due=already_due,
        upcoming=[_outbox_row(r) for r in upcoming],
        failed=[_outbox_row(r) for r in failed],
        failed_total=failed_total,
    )


def _session(row: sa.Row[tuple[object, ...]]) -> SessionInfo:
    r = row._mapping
    return SessionInfo(
        key=r["key"],
        kind=r["kind"],
        city_id=r["city_id"],
        starts_at=r["starts_at"],
        ends_at=r["ends_at"],
        timezone=r["timezone"],
        title=r["title"],
        location=r["location"],
        meeting_url=r["meeting_url"],
    )


def _outbox_row(row: sa.Row[tuple[object, ...]]) -> OutboxRow:
    r = row._mapping
    return OutboxRow(
        id=r["id"],
        kind=r["kind"],
        city_id=r["city_id"],
        email=r["email"],
        subject_key=r["subject_key"],
        send_at=r["send_at"],
        attempts=r["attempts"],
        last_error=r["last_error"],
    )
