"""Whose working hours and calendars a series must fit, and what is reported when it does not."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from calendars.expansion import Expansion, Slot
from calendars.slots import Availability, to_local
from models.cohort_file import City
from models.enums import Audience
from models.program_file import SessionSeries, WorkingHours


def availabilities(
    expansion: Expansion, series: SessionSeries, cities: Sequence[City]
) -> list[Availability]:
    """The cities' teams (when invited) and their coaches (when invited), in file order."""
    cohort = expansion.cohort
    out = []
    for city in cities:
        if {Audience.MAYOR, Audience.SENIOR_TEAM} & set(series.audience):
            owner = f"city:{city.id}"
            out.append(
                Availability(
                    owner,
                    city.timezone,
                    _hours(expansion, city.working_hours),
                    expansion.holidays_of([owner]),
                )
            )
    if Audience.COACH in series.audience:
        for coach_id in dict.fromkeys(c.coach for c in cities):
            coach = cohort.coach(coach_id)
            owner = f"coach:{coach.id}"
            out.append(
                Availability(
                    owner,
                    coach.timezone,
                    _hours(expansion, coach.working_hours),
                    expansion.holidays_of([owner]),
                )
            )
    return out


def _hours(expansion: Expansion, hours: WorkingHours | None) -> WorkingHours:
    return hours or expansion.program.working_hours


def fits(expansion: Expansion, slots: list[Slot], owners: list[Availability]) -> bool:
    """Whether every slot is inside every owner's working hours and clashes with nothing booked."""
    return all(
        owner.covers(start, end) and expansion.busy.clash(owner.owner, start, end) is None
        for start, end in slots
        for owner in owners
    )


def explain_misfit(
    expansion: Expansion,
    i: int,
    series: SessionSeries,
    slots: list[Slot],
    owners: list[Availability],
    pinned: bool,
) -> None:
    """Report the first reason a city's sessions do not fit: outside hours, or a clash."""
    place: tuple[str | int, ...] = ("cities", i, "coaching") if pinned else ("cities", i)
    for start, end in slots:
        for owner in owners:
            if not owner.covers(start, end):
                expansion.report(series, place, _outside_hours(series, owner, start))
                return
            if (other := expansion.busy.clash(owner.owner, start, end)) is not None:
                local = to_local(start, owner.zone)
                who = owner.owner.replace(":", " ")
                label = "double-booked" if owner.owner.startswith("coach:") else "busy"
                expansion.report(
                    series,
                    place,
                    f"{who} is {label}: {series.id} on {local:%Y-%m-%d %H:%M} "
                    f"({owner.zone}) overlaps {other}",
                    always_error=True,
                )
                return


def warn_hours_cohort(
    expansion: Expansion, index: int, series: SessionSeries, slots: list[Slot]
) -> None:
    """A cohort-wide series is placed regardless: report each owner whose hours it leaves."""
    owners = availabilities(expansion, series, expansion.cohort.cities)
    for owner in owners:
        for start, end in slots:
            if not owner.covers(start, end):
                expansion.report(
                    series,
                    ("sessions", index),
                    _outside_hours(series, owner, start),
                    file=expansion.program_file,
                )
                break


def _outside_hours(series: SessionSeries, owner: Availability, start: dt.datetime) -> str:
    local = to_local(start, owner.zone)
    if local.date() in owner.holidays:
        return (
            f"{series.id} on {local:%Y-%m-%d %H:%M} ({owner.zone}) is on a public holiday "
            f"or blackout date of {owner.owner.replace(':', ' ')}"
        )
    return (
        f"{series.id} on {local:%Y-%m-%d %H:%M} ({owner.zone}) is outside "
        f"the working hours of {owner.owner.replace(':', ' ')}"
    )
