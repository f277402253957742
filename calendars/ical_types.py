"""Inputs of iCalendar building: people and event snapshots, already resolved to one language."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PRODID = "-//GovEx City Data Alliance//Accelerator Engine 1.0//EN"


@dataclass(frozen=True)
class CalendarPerson:
    """Someone named in a calendar: the organizer of an invitation."""

    email: str
    name: str


@dataclass(frozen=True)
class InviteAttendee:
    """One recipient of an invitation; `required` becomes ROLE=REQ-PARTICIPANT."""

    email: str
    name: str
    required: bool = True


@dataclass(frozen=True)
class EventSnapshot:
    """One session as a calendar shows it, with texts in the recipient's or the feed's language.

    Instants must be timezone-aware; they are written in UTC.
    """

    uid: str
    sequence: int
    last_changed: dt.datetime  # UTC; the DTSTAMP of feeds, so unchanged events keep their bytes
    starts_at: dt.datetime  # UTC
    ends_at: dt.datetime  # UTC
    summary: str
    description: str
    location: str
    url: str | None
    cancelled: bool
    reminders: tuple[dt.timedelta, ...]  # alarm offsets before the start
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A naive instant would be written as floating time and read in each client's own zone.
        for name in ("last_changed", "starts_at", "ends_at"):
            value: dt.datetime = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"event {self.uid!r}: {name} must be timezone-aware, got {value}")
        if self.ends_at < self.starts_at:
            raise ValueError(f"event {self.uid!r}: ends_at {self.ends_at} is before starts_at")
        if self.sequence < 0:
            raise ValueError(f"event {self.uid!r}: sequence must be 0 or more, got {self.sequence}")
        if any(offset < dt.timedelta(0) for offset in self.reminders):
            raise ValueError(f"event {self.uid!r}: reminders are offsets before the start (>= 0)")
