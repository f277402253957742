"""Each city's deliverable deadlines and decision points, from the program and its check-ins."""

from __future__ import annotations

import datetime as dt

from calendars.business_days import DaysOff
from calendars.slots import local_instant
from calendars.timeline_types import TimelineDecisionPoint, TimelineDeliverable, TimelineSession
from models.cohort_file import City, Cohort
from models.enums import Audience, Role
from models.program_file import DeadlineOnHoliday, Deliverable, Program


def timeline_deliverables(
    program: Program, cohort: Cohort, anchor_day: dt.date, days_off: dict[str, DaysOff]
) -> list[TimelineDeliverable]:
    """Every deliverable of every city, due at the program's time on the city's clock; with
    `deadline_on_holiday: previous_business_day`, a deadline on a city's day off moves earlier."""
    out = []
    move = program.deadline_on_holiday is DeadlineOnHoliday.PREVIOUS_BUSINESS_DAY
    for city in cohort.cities:
        for deliverable in program.deliverables:
            due_day = deliverable.due.resolve(anchor_day)
            if move:
                due_day = days_off[f"city:{city.id}"].previous_business_day(due_day)
            out.append(
                TimelineDeliverable(
                    key=f"{cohort.id}/deliverable/{city.id}/{deliverable.id}",
                    deliverable=deliverable.id,
                    city_id=city.id,
                    title=dict(deliverable.title),
                    due_at=local_instant(due_day, program.deliverable_due_time, city.timezone),
                    owners=_owners(cohort, city, deliverable),
                    reminders=tuple(deliverable.reminders),
                )
            )
    return out


def _owners(cohort: Cohort, city: City, deliverable: Deliverable) -> tuple[str, ...]:
    owners: list[str] = []
    for owner in deliverable.owners:
        if owner == Audience.MAYOR:
            owners.append(city.mayor.email)
        elif owner == Audience.SENIOR_TEAM:
            owners.extend(m.email for m in city.team)
        elif owner == Audience.COACH:
            owners.append(cohort.coach(city.coach).email)
        elif owner == Audience.ORGANIZER:
            owners.append(cohort.organizer.email)
        else:
            role = Role(owner)
            # A role the city lacks falls to its whole senior team (documented).
            holders = [m.email for m in city.team if m.role is role]
            owners.extend(holders or [m.email for m in city.team])
    return tuple(dict.fromkeys(owners))


def timeline_decision_points(
    program: Program,
    cohort: Cohort,
    sessions: list[TimelineSession],
    days_off: dict[str, DaysOff],
) -> list[TimelineDecisionPoint]:
    """A decision point per city whose check-in session was placed, notified before it (on
    the city's previous business day when that moment is a weekend or public holiday)."""
    by_point = {(s.decision_point, s.city_id): s for s in sessions if s.decision_point is not None}
    out = []
    for city in cohort.cities:
        for point in program.decision_points:
            checkin = by_point.get((point.id, city.id))
            if checkin is None:
                continue
            out.append(
                TimelineDecisionPoint(
                    key=f"{cohort.id}/decision/{city.id}/{point.id}",
                    decision_point=point.id,
                    city_id=city.id,
                    checkin_session=checkin.key,
                    notify_at=days_off[f"city:{city.id}"].earlier_business_moment(
                        checkin.starts_at - point.notify_before
                    ),
                    title=dict(point.title),
                    decide=dict(point.decide),
                    deliverables=tuple(
                        f"{cohort.id}/deliverable/{city.id}/{d}" for d in point.deliverables
                    ),
                )
            )
    return out
