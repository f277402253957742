"""The expanded timeline: people, sessions, deliverables and decision points of one cohort."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from calendars.business_days import DaysOff
from models.cohort_file import Cohort
from models.enums import Language, SessionKind
from models.problems import Problem
from models.program_file import Program


@dataclass(frozen=True)
class Person:
    """Anyone who receives something. The key is the lower-case email: one person, one calendar."""

    key: str
    name: str
    email: str
    language: Language
    timezone: str
    role: str  # mayor, coach, organizer, or a senior-team role
    city_id: str | None = None
    # How letters address them (title, salutation, family name) and whom to copy: JSON-able.
    addressing: tuple[tuple[str, Any], ...] = ()

    def addressing_json(self) -> dict[str, Any] | None:
        """The addressing as stored (None when the cohort gives none)."""
        return {k: dict(v) if isinstance(v, tuple) else v for k, v in self.addressing} or None


@dataclass(frozen=True, order=True)
class Attendee:
    person: str
    required: bool = True


@dataclass(frozen=True)
class TimelineSession:
    key: str
    series: str
    kind: SessionKind
    title: dict[Language, str]
    description: dict[Language, str] | None
    starts_at: dt.datetime  # UTC
    ends_at: dt.datetime  # UTC
    timezone: str  # the zone whose wall clock the session keeps
    location: str
    meeting_url: str | None
    language: Language | None  # None: interpreted into every language
    attendees: tuple[Attendee, ...]
    reminders: tuple[dt.timedelta, ...]
    city_id: str | None = None
    group_id: str | None = None
    decision_point: str | None = None
    # How long before its start the invitation goes out (0: at once). Spreads a six-month
    # timeline's invitations over the program instead of sending them all on day one.
    invite_before: dt.timedelta = dt.timedelta(0)


@dataclass(frozen=True)
class TimelineDeliverable:
    key: str
    deliverable: str
    city_id: str
    title: dict[Language, str]
    due_at: dt.datetime  # UTC
    owners: tuple[str, ...]
    reminders: tuple[dt.timedelta, ...]


@dataclass(frozen=True)
class TimelineDecisionPoint:
    key: str
    decision_point: str
    city_id: str
    checkin_session: str
    notify_at: dt.datetime  # UTC
    deliverables: tuple[str, ...]
    title: dict[Language, str]
    decide: dict[Language, str]


@dataclass
class Timeline:
    cohort_id: str
    program_id: str
    people: dict[str, Person]
    sessions: list[TimelineSession]
    deliverables: list[TimelineDeliverable]
    decision_points: list[TimelineDecisionPoint]
    problems: list[Problem] = field(default_factory=list)
    # Per email: weekends, public holidays and blackout dates a message to them avoids.
    days_off: dict[str, DaysOff] = field(default_factory=dict)


def uid_for(session_key: str, program_id: str) -> str:
    """The iCalendar UID of a session: derived from its key only, so it never changes."""
    return f"{session_key.replace('/', '.')}@{program_id}.accelerator"


@dataclass
class LoadedInputs:
    """A program and cohort as read and checked, with their expanded timeline and warnings."""

    program: Program
    cohort: Cohort
    program_file: str
    cohort_file: str
    timeline: Timeline
    warnings: list[Problem]
