"""Business days: weekends, a country's public holidays (the `holidays` library) and blackout dates.

The `holidays` library computes dates from rules (no file or network), so this room may use
it; the years come from the program's span, never from the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import holidays

from calendars.slots import local_instant, to_local

WEEKEND = frozenset({5, 6})  # Saturday and Sunday in every country of the Americas we serve
# How far a move may search: a country's longest run of days off (Holy Week plus a weekend).
_MAX_SEARCH = 21


@lru_cache(maxsize=256)
def public_holidays(
    country: str, subdivision: str | None, years: tuple[int, ...]
) -> dict[dt.date, str]:
    """The public holidays of `country` (and `subdivision`) in `years`: date -> English name."""
    found = holidays.country_holidays(country, subdiv=subdivision, years=years, language="en_US")
    return dict(found.items())


def years_of(first: dt.date, last: dt.date) -> tuple[int, ...]:
    return tuple(range(first.year, last.year + 1))


@dataclass(frozen=True)
class DaysOff:
    """One person's or city's days off, read on the wall clock of `zone`."""

    zone: str
    holidays: tuple[tuple[dt.date, str], ...] = ()  # (day, name), sorted
    blackout: frozenset[dt.date] = frozenset()

    @classmethod
    def of(
        cls,
        zone: str,
        country: str | None,
        subdivision: str | None,
        years: tuple[int, ...],
        blackout: Iterable[dt.date] = (),
    ) -> DaysOff:
        found = public_holidays(country, subdivision, years) if country else {}
        return cls(zone, tuple(sorted(found.items())), frozenset(blackout))

    def why_off(self, day: dt.date) -> str | None:
        """'Saturday', a holiday's name, 'a blackout date', or None on a business day."""
        if day.weekday() in WEEKEND:
            return day.strftime("%A")
        name = dict(self.holidays).get(day)
        if name is not None:
            return name
        return "a blackout date" if day in self.blackout else None

    def is_off(self, day: dt.date) -> bool:
        return self.why_off(day) is not None

    def is_holiday(self, day: dt.date) -> bool:
        """A public holiday or blackout date (weekends are the working hours' business)."""
        return day in self.blackout or day in dict(self.holidays)

    def previous_business_day(self, day: dt.date) -> dt.date:
        for back in range(_MAX_SEARCH):
            candidate = day - dt.timedelta(days=back)
            if not self.is_off(candidate):
                return candidate
        return day

    def next_business_day(self, day: dt.date) -> dt.date:
        for ahead in range(_MAX_SEARCH):
            candidate = day + dt.timedelta(days=ahead)
            if not self.is_off(candidate):
                return candidate
        return day

    def earlier_business_moment(self, instant: dt.datetime) -> dt.datetime:
        """The same wall time on the previous business day (unchanged on a business day)."""
        local = to_local(instant, self.zone)
        day = self.previous_business_day(local.date())
        return instant if day == local.date() else local_instant(day, local.time(), self.zone)

    def later_business_moment(self, instant: dt.datetime) -> dt.datetime:
        """The same wall time on the next business day (unchanged on a business day)."""
        local = to_local(instant, self.zone)
        day = self.next_business_day(local.date())
        return instant if day == local.date() else local_instant(day, local.time(), self.zone)


def shift_off_days(days: list[dt.date], off: frozenset[dt.date]) -> list[dt.date]:
    """Each occurrence on a day in `off` moves to the next weekday free of `off` and of the
    series' other days (a coaching on a national holiday goes to the next working day)."""
    if not off:
        return days
    taken = set(days)
    out = []
    for day in days:
        if day not in off:
            out.append(day)
            continue
        candidate = day
        for _ in range(_MAX_SEARCH):
            candidate += dt.timedelta(days=1)
            if candidate.weekday() not in WEEKEND and candidate not in off | taken:
                break
        else:
            candidate = day  # nowhere to go: keep it, the validate warning will say so
        taken.add(candidate)
        out.append(candidate)
    return out


def business_send_at(
    off: DaysOff | None,
    intended: dt.datetime,
    *,
    now: dt.datetime,
    before: dt.datetime | None = None,
) -> dt.datetime:
    """When a message meant for `intended` goes out so it lands on a business day of `off`.

    It moves to the same wall time on the previous business day; if that moment has passed it
    waits for the next business day after `now`, as long as that is still before `before` (the
    session's start); failing both it keeps `max(intended, now)`: a message that arrives on a
    holiday is better than one that arrives after the session began.
    """
    wanted = max(intended, now)
    if off is None or not off.is_off(to_local(wanted, off.zone).date()):
        return wanted
    earlier = off.earlier_business_moment(intended)
    if earlier > now:
        return earlier
    later = off.later_business_moment(now)
    if before is None or later < before:
        return later
    return wanted
