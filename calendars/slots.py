"""Busy calendars and working hours: the constraints a session's time must satisfy."""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import pendulum

from models.program_file import WorkingHours
from models.timezones import load_zone

UTC = dt.UTC


def local_instant(day: dt.date, time: dt.time, zone: str) -> dt.datetime:
    """The UTC instant of a wall-clock time on a local day (a DST gap moves it forward)."""
    local = pendulum.datetime(
        day.year, day.month, day.day, time.hour, time.minute, tz=load_zone(zone)
    )
    return dt.datetime.fromtimestamp(local.timestamp(), tz=UTC)


def to_local(instant: dt.datetime, zone: str) -> dt.datetime:
    return instant.astimezone(load_zone(zone))


@dataclass(frozen=True)
class Availability:
    """Whose working hours a session must respect: a city (its team) or a coach."""

    owner: str  # "city:santiago" or "coach:ana"
    zone: str
    hours: WorkingHours
    holidays: frozenset[dt.date] = frozenset()  # public holidays and blackouts, local days

    @cached_property
    def _days(self) -> frozenset[int]:
        return frozenset(d.number for d in self.hours.days)

    def covers(self, start: dt.datetime, end: dt.datetime) -> bool:
        local_start, local_end = to_local(start, self.zone), to_local(end, self.zone)
        return (
            local_start.date() == local_end.date()
            and local_start.weekday() in self._days
            and local_start.date() not in self.holidays
            and local_start.time() >= self.hours.start
            and local_end.time() <= self.hours.end
        )


@dataclass
class BusyCalendar:
    """Intervals already taken, per owner, kept sorted for quick overlap checks."""

    taken: dict[str, list[tuple[dt.datetime, dt.datetime, str]]] = field(default_factory=dict)

    def clash(self, owner: str, start: dt.datetime, end: dt.datetime) -> str | None:
        """The key of a session of `owner` overlapping [start, end), if any."""
        intervals = self.taken.get(owner, [])
        i = bisect.bisect_left(intervals, (start,))
        for j in (i - 1, i):
            if 0 <= j < len(intervals):
                other_start, other_end, key = intervals[j]
                if other_start < end and start < other_end:
                    return key
        # Long intervals may start well before `start`; fall back to a scan only then.
        for _start, other_end, key in intervals[: max(i - 1, 0)]:
            if other_end > start:
                return key
        return None

    def book(self, owner: str, start: dt.datetime, end: dt.datetime, key: str) -> None:
        bisect.insort(self.taken.setdefault(owner, []), (start, end, key))
