"""Stored state: SQLModel tables for sessions, invitations, people, deliverables, decision points."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from models.enums import RecordStatus


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in Python; naive UTC in the database (SQLite keeps no offset)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def utc_column(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class PersonRecord(SQLModel, table=True):
    __tablename__ = "person"

    cohort_id: str = Field(primary_key=True)
    email: str = Field(primary_key=True)
    name: str
    language: str
    timezone: str
    role: str
    city_id: str | None = Field(default=None, index=True)
    # {"title": {lang: text}, "salutation": {lang: text}, "family_name": str, "assistant": email}
    addressing: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    active: bool = True
    changed_at: dt.datetime = utc_column(nullable=False)


class SessionRecord(SQLModel, table=True):
    __tablename__ = "session"

    key: str = Field(primary_key=True)
    cohort_id: str = Field(index=True)
    series: str
    kind: str
    city_id: str | None = Field(default=None, index=True)
    group_id: str | None = None
    decision_point: str | None = None
    starts_at: dt.datetime = utc_column(nullable=False, index=True)
    ends_at: dt.datetime = utc_column(nullable=False)
    timezone: str
    location: str
    meeting_url: str | None = None
    language: str | None = None
    title: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    description: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))
    reminders: list[int] = Field(sa_column=Column(JSON, nullable=False))  # seconds before start
    fingerprint: str
    status: str = RecordStatus.SCHEDULED.value
    sequence: int = 0
    created_at: dt.datetime = utc_column(nullable=False)
    changed_at: dt.datetime = utc_column(nullable=False)


class InvitationRecord(SQLModel, table=True):
    """A person's place in a session; cancelled when they are removed, never deleted."""

    __tablename__ = "invitation"
    __table_args__ = (sa.UniqueConstraint("session_key", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: str = Field(index=True)
    session_key: str = Field(foreign_key="session.key", index=True)
    email: str = Field(index=True)
    required: bool = True
    status: str = RecordStatus.SCHEDULED.value
    sequence: int = 0  # the session's sequence when this invitation last changed
    changed_at: dt.datetime = utc_column(nullable=False)


class DeliverableRecord(SQLModel, table=True):
    __tablename__ = "deliverable"

    key: str = Field(primary_key=True)
    cohort_id: str = Field(index=True)
    city_id: str = Field(index=True)
    deliverable: str
    title: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    due_at: dt.datetime = utc_column(nullable=False)
    owners: list[str] = Field(sa_column=Column(JSON, nullable=False))
    reminders: list[int] = Field(sa_column=Column(JSON, nullable=False))
    status: str = RecordStatus.SCHEDULED.value
    submitted_at: dt.datetime | None = utc_column(nullable=True)
    link: str | None = None
    changed_at: dt.datetime = utc_column(nullable=False)


class DecisionPointRecord(SQLModel, table=True):
    __tablename__ = "decision_point"

    key: str = Field(primary_key=True)
    cohort_id: str = Field(index=True)
    city_id: str = Field(index=True)
    decision_point: str
    title: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    decide: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    checkin_session: str
    notify_at: dt.datetime = utc_column(nullable=False)
    deliverables: list[str] = Field(sa_column=Column(JSON, nullable=False))
    status: str = RecordStatus.SCHEDULED.value
    changed_at: dt.datetime = utc_column(nullable=False)


class CityRecord(SQLModel, table=True):
    """A city of a cohort as last applied: what messages and pages need beyond its people."""

    __tablename__ = "city"

    cohort_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    name: str
    country: str
    timezone: str
    language: str
    coach_email: str
    mayor_email: str
    changed_at: dt.datetime = utc_column(nullable=False)


class SessionOverrideRecord(SQLModel, table=True):
    """An operator's move or cancellation of one session, laid over the files at every apply."""

    __tablename__ = "session_override"

    session_key: str = Field(primary_key=True)
    cohort_id: str = Field(index=True)
    starts_at: dt.datetime | None = utc_column(nullable=True)
    cancelled: bool = False
    reason: str | None = None
    changed_at: dt.datetime = utc_column(nullable=False)


# Core table handles, exported once: queries everywhere use these names.
PERSON: sa.Table = PersonRecord.__table__  # type: ignore[attr-defined]
SESSION: sa.Table = SessionRecord.__table__  # type: ignore[attr-defined]
INVITATION: sa.Table = InvitationRecord.__table__  # type: ignore[attr-defined]
DELIVERABLE: sa.Table = DeliverableRecord.__table__  # type: ignore[attr-defined]
DECISION: sa.Table = DecisionPointRecord.__table__  # type: ignore[attr-defined]
CITY: sa.Table = CityRecord.__table__  # type: ignore[attr-defined]
OVERRIDE: sa.Table = SessionOverrideRecord.__table__  # type: ignore[attr-defined]
