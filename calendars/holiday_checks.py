"""Sessions and deadlines on a city's weekend, public holiday or blackout date: warnings (or
errors under `holiday_policy: error`) for `validate`."""

from __future__ import annotations

from calendars.expansion import Expansion
from calendars.slots import to_local
from calendars.timeline_types import Person, TimelineDeliverable, TimelineSession
from models.enums import Policy
from models.file_loading import source_line
from models.problems import Problem, Severity, format_place


def holiday_problems(
    expansion: Expansion,
    sessions: list[TimelineSession],
    deliverables: list[TimelineDeliverable],
    people: dict[str, Person],
) -> list[Problem]:
    """One problem per (session or deadline, city) landing on that city's day off."""
    program = expansion.program
    severity = Severity.ERROR if program.holiday_policy is Policy.ERROR else Severity.WARNING
    index = {s.id: i for i, s in enumerate(program.sessions)}
    out = []
    for session in sessions:
        cities = {people[a.person].city_id for a in session.attendees} - {None}
        for city_id in sorted(c for c in cities if c is not None):
            off = expansion.days_off[f"city:{city_id}"]
            day = to_local(session.starts_at, off.zone).date()
            why = off.why_off(day)
            if why is None:
                continue
            place = ("sessions", index[session.series])
            out.append(
                Problem(
                    expansion.program_file,
                    format_place(place),
                    f"{session.key} falls on {day} ({why}) in {city_id}",
                    severity,
                    line=source_line(program, place),
                )
            )
    deliverable_index = {d.id: i for i, d in enumerate(program.deliverables)}
    for item in deliverables:
        off = expansion.days_off[f"city:{item.city_id}"]
        day = to_local(item.due_at, off.zone).date()
        why = off.why_off(day)
        if why is not None:
            place = ("deliverables", deliverable_index[item.deliverable])
            out.append(
                Problem(
                    expansion.program_file,
                    format_place(place),
                    f"{item.key} is due on {day} ({why}) in {item.city_id}; "
                    "deadline_on_holiday: previous_business_day would move it",
                    severity,
                    line=source_line(program, place),
                )
            )
    return out
