"""What expanding a program for a cohort would cost, counted from the files before expanding.

An upper bound, in the engine's own units: session instances, invitations (one per session
and attendee) and reminders (one per invitation and reminder offset); the outbox rows an
`apply` queues are the invitations plus the reminders. Counted in microseconds from the
parsed files, so a file that would take minutes and gigabytes is refused before any of it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from calendars.recurrence import MAX_OCCURRENCES
from models.cohort_file import Cohort
from models.enums import Audience, Scope
from models.program_file import Program, SessionSeries

# The budget: a little over what a generated 1,000-city cohort of the shipped program counts
# to (17,286 sessions, 136,998 invitations, 287,199 outbox rows; a real cohort has about 25
# cities), a tenth of the 60-city file with 24 daily series and 5 reminders each. SECURITY.md
# states it and the time the largest accepted file takes (bench/bench_budget.py).
MAX_OUTBOX_ROWS: Final = 300_000
# Per coach: the shipped program gives a coach of five cities 86 sessions. One coach for
# thousands of cities is refused here, not after minutes of searching one calendar for slots.
MAX_SESSIONS_PER_COACH: Final = 1_000

_COUNT: Final = re.compile(r"(?:^|;)COUNT=(\d+)(?:;|$)", re.IGNORECASE)


@dataclass(frozen=True)
class ExpansionCost:
    sessions: int  # session instances
    invitations: int  # session instances times their attendees
    reminders: int  # invitations times their reminder offsets
    busiest_coach: str | None  # the coach with the most sessions
    coach_sessions: int  # how many

    @property
    def outbox_rows(self) -> int:
        return self.invitations + self.reminders


def expansion_cost(program: Program, cohort: Cohort) -> ExpansionCost:
    """The cost of expanding `program` for `cohort`: an upper bound, never an underestimate."""
    sessions = invitations = reminders = 0
    per_coach = dict.fromkeys((c.id for c in cohort.coaches), 0)
    for series in program.sessions:
        occurrences = _occurrences(series)
        instances, attendees, coach_instances = _instances(series, cohort)
        sessions += instances * occurrences
        invitations += attendees * occurrences
        reminders += attendees * occurrences * len(series.reminders)
        for coach_id, count in coach_instances.items():
            per_coach[coach_id] = per_coach.get(coach_id, 0) + count * occurrences
    busiest = max(per_coach, key=lambda c: per_coach[c], default=None)
    return ExpansionCost(
        sessions, invitations, reminders, busiest, per_coach[busiest] if busiest else 0
    )


def budget_problems(cost: ExpansionCost) -> list[str]:
    """One message per budget the cost exceeds."""
    problems = []
    if cost.outbox_rows > MAX_OUTBOX_ROWS:
        problems.append(
            f"expanding this program for this cohort would make {cost.sessions:,} sessions, "
            f"{cost.invitations:,} invitations and {cost.reminders:,} reminders: "
            f"{cost.outbox_rows:,} outbox rows; the budget is {MAX_OUTBOX_ROWS:,}"
        )
    if cost.coach_sessions > MAX_SESSIONS_PER_COACH:
        problems.append(
            f"coach {cost.busiest_coach} would have {cost.coach_sessions:,} sessions; "
            f"the budget is {MAX_SESSIONS_PER_COACH:,} per coach"
        )
    return problems


def _occurrences(series: SessionSeries) -> int:
    if series.recurrence is None:
        return 1  # `at` and `window`: one session per instance
    count = _COUNT.search(series.recurrence.rule.replace(" ", ""))
    found = int(count.group(1)) if count else MAX_OCCURRENCES
    return min(found, MAX_OCCURRENCES)  # `times` are candidates: one of them is used


def _people(series: SessionSeries, cohort: Cohort, cities: int, team: int) -> int:
    """Attendees from the cities (mayors, their substitutes, teams) for `cities` cities."""
    audience = set(series.audience)
    count = 0
    if Audience.MAYOR in audience:
        count += cities * 2  # the mayor, and a substitute with an address
    if Audience.SENIOR_TEAM in audience:
        count += team
    return count


def _instances(series: SessionSeries, cohort: Cohort) -> tuple[int, int, dict[str, int]]:
    """Instances per occurrence, their attendees in all, and each coach's share of them."""
    cities = len(cohort.cities)
    team = sum(len(c.team) for c in cohort.cities)
    coach_seat = Audience.COACH in series.audience
    organizer = 1 if Audience.ORGANIZER in series.audience else 0
    if series.scope is Scope.COHORT:
        coaches = len(cohort.coaches) if coach_seat else 0
        every = dict.fromkeys((c.id for c in cohort.coaches), 1 if coach_seat else 0)
        return 1, _people(series, cohort, cities, team) + coaches + organizer, every
    per_coach: dict[str, int] = {}
    if series.scope is Scope.GROUP:
        assert series.grouping is not None
        languages = len({c.language for c in cohort.cities})
        groups = math.ceil(cities / series.grouping.max_cities) + languages
        # Every coach of a group's cities attends: at most each coach once per group.
        coach_seats = min(groups * len(cohort.coaches), cities) if coach_seat else 0
        for city in cohort.cities:
            per_coach[city.coach] = per_coach.get(city.coach, 0) + (1 if coach_seat else 0)
        attendees = _people(series, cohort, cities, team) + coach_seats + groups * organizer
        return groups, attendees, per_coach
    for city in cohort.cities:
        per_coach[city.coach] = per_coach.get(city.coach, 0) + (1 if coach_seat else 0)
    seats = (1 if coach_seat else 0) + organizer
    return cities, _people(series, cohort, cities, team) + cities * seats, per_coach
