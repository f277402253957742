"""Slots counted from the anchor's day: a series' fixed `at` time, or its window's first fit."""

from __future__ import annotations

import datetime as dt

from calendars.expansion import Expansion, Slot
from calendars.series_fit import fits
from calendars.slots import Availability, local_instant
from models.program_file import SessionSeries


def fixed_slot(expansion: Expansion, series: SessionSeries) -> Slot:
    """The `at` start and end, on the anchor's days and in the anchor's zone."""
    timing = series.at
    assert timing is not None
    anchor = expansion.anchor
    zone = anchor.timezone
    start = local_instant(timing.starts.resolve(anchor.date), timing.start_time, zone)
    end = local_instant(timing.ends.resolve(anchor.date), timing.end_time, zone)
    return start, end


def window_slot(
    expansion: Expansion, series: SessionSeries, zone: str, owners: list[Availability]
) -> tuple[Slot, bool]:
    """The window's first day and time that fits every owner, or (not fitting) its first one."""
    timing = series.window
    assert timing is not None and series.duration is not None
    first_day = timing.starts.resolve(expansion.anchor.date)
    fallback = None
    for offset in range(timing.days):
        day = first_day + dt.timedelta(days=offset)
        for time in timing.times:
            start = local_instant(day, time, zone)
            slot = (start, start + series.duration)
            fallback = fallback or slot
            if fits(expansion, [slot], owners):
                return slot, True
    assert fallback is not None
    return fallback, False
