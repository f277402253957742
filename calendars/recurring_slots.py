"""The instants of a recurring series: the first weekday and time whose every occurrence fits."""

from __future__ import annotations

import datetime as dt

from calendars.business_days import shift_off_days
from calendars.expansion import Expansion, Slot
from calendars.recurrence import RecurrenceRuleError, has_weekday, occurrence_days
from calendars.series_fit import fits
from calendars.slots import Availability, local_instant
from models.enums import Weekday
from models.file_loading import source_line
from models.problems import Problem, format_place
from models.program_file import SessionSeries


def recurring_slots(
    expansion: Expansion,
    series: SessionSeries,
    zone: str,
    owners: list[Availability],
    pinned: tuple[Weekday, dt.time] | None,
    avoid: frozenset[dt.date] | None = None,
) -> tuple[list[Slot], bool]:
    """Instants of a recurring series; the first candidate that fits, or the first one.

    An occurrence on a public holiday or blackout date of any owner (or in `avoid`, for a
    cohort-wide series) moves to the next weekday free of them; the rest keep the rule's days.
    """
    timing = series.recurrence
    assert timing is not None and series.duration is not None
    start_day = timing.starts.resolve(expansion.anchor.date)
    weekdays: list[Weekday | None]
    if pinned is not None:
        weekdays, times = [pinned[0]], [pinned[1]]
    else:
        weekdays = [None] if has_weekday(timing.rule) or not timing.weekdays else [*timing.weekdays]
        times = timing.times
    off = avoid if avoid is not None else expansion.holidays_of([o.owner for o in owners])
    fallback: list[Slot] | None = None
    reason = f"the rule yields no occurrence from {start_day}"
    for weekday in weekdays:
        try:
            days = occurrence_days(timing.rule, start_day, weekday)
        except RecurrenceRuleError as error:  # checked from 2024-01-01; the real start differs
            days, reason = [], str(error)
        if not days:
            continue  # another weekday may give days; an empty series would "fit" anything
        days = shift_off_days(days, off)
        for time in times:
            slots = []
            for day in days:
                start = local_instant(day, time, zone)
                slots.append((start, start + series.duration))
            if fallback is None:
                fallback = slots
            if fits(expansion, slots, owners):
                return slots, True
    if fallback is None:
        _rule_problem(expansion, series, reason)
        return [], True
    return fallback, False


def _rule_problem(expansion: Expansion, series: SessionSeries, message: str) -> None:
    """A recurrence that gives no days from its real start: an error, reported once."""
    program = expansion.program
    index = next(i for i, s in enumerate(program.sessions) if s.id == series.id)
    place = format_place(("sessions", index, "recurrence", "rule"))
    problem = Problem(
        expansion.program_file,
        place,
        message,
        line=source_line(program, ("sessions", index, "recurrence", "rule")),
    )
    if problem not in expansion.problems:
        expansion.problems.append(problem)
