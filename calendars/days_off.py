"""Whose days off count: each city (its country), each coach and every person of a cohort."""

from __future__ import annotations

import datetime as dt

from calendars.business_days import DaysOff, years_of
from models.cohort_file import Cohort
from models.program_file import Program


def span_years(first: dt.date, last: dt.date) -> tuple[int, ...]:
    """The program's years, one either side: a move may cross New Year."""
    return years_of(first - dt.timedelta(days=366), last + dt.timedelta(days=366))


def owner_days_off(
    program: Program, cohort: Cohort, window: tuple[dt.date, dt.date]
) -> dict[str, DaysOff]:
    """Per slot owner ("city:<id>", "coach:<id>"): its days off on its own clock."""
    years = span_years(*window)
    blackout = program.blackout_dates
    out = {
        f"city:{c.id}": DaysOff.of(c.timezone, c.country, c.subdivision, years, blackout)
        for c in cohort.cities
    }
    for coach in cohort.coaches:
        out[f"coach:{coach.id}"] = DaysOff.of(
            coach.timezone, coach.country, coach.subdivision, years, blackout
        )
    return out


def people_days_off(
    program: Program, cohort: Cohort, window: tuple[dt.date, dt.date]
) -> dict[str, DaysOff]:
    """Per email: the days off a message to that person must avoid, on their own clock."""
    years = span_years(*window)
    blackout = program.blackout_dates
    organizer = cohort.organizer
    out = {
        organizer.email: DaysOff.of(
            organizer.timezone or program.timezone, None, None, years, blackout
        )
    }
    for coach in cohort.coaches:
        out[coach.email] = DaysOff.of(
            coach.timezone, coach.country, coach.subdivision, years, blackout
        )
    for city in cohort.cities:
        out[city.mayor.email] = DaysOff.of(
            city.timezone, city.country, city.subdivision, years, blackout
        )
        for member in city.team:
            zone = member.timezone or city.timezone
            out[member.email] = DaysOff.of(zone, city.country, city.subdivision, years, blackout)
    return out
