"""Properties of `expand_timeline` over generated cohorts, with the shipped program.

Cohorts of 1-12 cities in zones of the Americas (with and without daylight saving, northern and
southern), in English, Spanish and Portuguese, with 3-4 team members, 1-4 coaches in their own
zones, and sometimes their own working hours or convening. For each: every session lies inside
the program window; when expansion reports no problem, every session after the convening lies
inside the working hours of every city and coach it constrains; keys and UIDs are unique; and
expanding twice gives the same timeline. Derandomized, so CI always runs the same examples.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calendars.expansion import anchor_of
from calendars.timeline import expand_timeline
from calendars.timeline_types import Timeline, TimelineSession, uid_for
from models.cohort_file import Cohort
from models.enums import Audience, SessionKind
from models.file_loading import check_cohort, load_program
from models.problems import Severity
from models.program_file import Program, WorkingHours

PROGRAM_FILE = Path(__file__).resolve().parents[2] / "programs" / "cda-accelerator.yaml"
ZONES = (
    "America/Santiago",  # changes clocks in September and April
    "America/Asuncion",  # changed clocks in October until 2024
    "America/Mexico_City",  # no daylight saving since 2022
    "America/Sao_Paulo",  # southern, no daylight saving
    "America/New_York",
    "America/Denver",
    "America/Bogota",  # no daylight saving
    "America/Lima",
    "America/Argentina/Buenos_Aires",
    "America/Los_Angeles",
    "America/Halifax",
)
LANGUAGES = ("en", "es", "pt")
ROLES = ("city_leader", "chief_of_staff", "chief_data_officer", "communications", "other")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def program() -> Program:
    return load_program(PROGRAM_FILE.read_bytes(), "programs/cda-accelerator.yaml")


def _time(hour: int, minute: int = 0) -> str:
    return f"{hour:02d}:{minute:02d}"


working_hours = st.one_of(
    st.none(),
    st.builds(
        lambda start, end, days: {"start": _time(start), "end": _time(end), "days": days},
        st.integers(7, 10),
        st.integers(16, 20),
        st.lists(st.sampled_from(WEEKDAYS), min_size=3, max_size=7, unique=True).map(
            lambda days: sorted(days, key=WEEKDAYS.index)
        ),
    ),
)


@st.composite
def cohorts(draw: st.DrawFn) -> dict[str, Any]:
    """A cohort file as the dict YAML would give, valid by construction."""
    coaches = []
    for k in range(draw(st.integers(1, 4))):
        coach: dict[str, Any] = {
            "id": f"coach-{k}",
            "name": f"Coach {k}",
            "email": f"coach{k}@govex.example.org",
            "timezone": draw(st.sampled_from(ZONES)),
            "languages": list(LANGUAGES),
        }
        if (hours := draw(working_hours)) is not None:
            coach["working_hours"] = hours
        coaches.append(coach)
    cities = []
    for i in range(draw(st.integers(1, 12))):
        city_id = f"city-{i}"
        roles = draw(st.lists(st.sampled_from(ROLES), min_size=3, max_size=4))
        city: dict[str, Any] = {
            "id": city_id,
            "name": f"City {i}",
            "country": "CL",
            "timezone": draw(st.sampled_from(ZONES)),
            "language": draw(st.sampled_from(LANGUAGES)),
            "coach": f"coach-{draw(st.integers(0, len(coaches) - 1))}",
            "mayor": {"name": f"Mayor {i}", "email": f"mayor@{city_id}.example.org"},
            "team": [
                {"name": f"Member {j}", "email": f"m{j}@{city_id}.example.org", "role": role}
                for j, role in enumerate(roles)
            ],
        }
        if (hours := draw(working_hours)) is not None:
            city["working_hours"] = hours
        cities.append(city)
    data: dict[str, Any] = {
        "cohort": "prop",
        "program": "cda-accelerator",
        "organizer": {"name": "GovEx", "email": "accelerator@govex.example.org"},
        "virtual_meeting": {"base_url": "https://meet.example.org/prop"},
        "coaches": coaches,
        "cities": cities,
    }
    convening = draw(st.sampled_from([None, dt.date(2025, 6, 25), dt.date(2026, 3, 4)]))
    if convening is not None:
        data["convening"] = {
            "date": convening,
            "timezone": draw(st.sampled_from(ZONES)),
            "venue": {"name": "Venue", "address": "Somewhere 1"},
        }
    return data


def _expand(program: Program, data: dict[str, Any]) -> tuple[Cohort, Timeline]:
    cohort = Cohort.model_validate(data)
    assert [
        p for p in check_cohort(cohort, program, "cohort") if p.severity is Severity.ERROR
    ] == []
    return cohort, expand_timeline(program, cohort)


def _covers(hours: WorkingHours, zone: str, session: TimelineSession) -> bool:
    """Independent of calendars.slots: the session's local start and end in `zone`."""
    start = session.starts_at.astimezone(ZoneInfo(zone))
    end = session.ends_at.astimezone(ZoneInfo(zone))
    return (
        start.date() == end.date()
        and WEEKDAYS[start.weekday()] in {d.value for d in hours.days}
        and hours.start <= start.time()
        and end.time() <= hours.end
    )


def _constrained(
    program: Program, cohort: Cohort, session: TimelineSession
) -> list[tuple[str, str, WorkingHours]]:
    """(who, zone, hours) for each city and coach whose hours the session must respect."""
    audience = set(program.session(session.series).audience)
    invited = {a.person for a in session.attendees}
    owners = []
    for city in cohort.cities:
        people = {city.mayor.email, *(m.email for m in city.team)}
        if audience & {Audience.MAYOR, Audience.SENIOR_TEAM} and people & invited:
            owners.append((city.id, city.timezone, city.working_hours or program.working_hours))
    if Audience.COACH in audience:
        for coach in cohort.coaches:
            if coach.email in invited:
                owners.append(
                    (coach.id, coach.timezone, coach.working_hours or program.working_hours)
                )
    return owners


@PROPERTY_SETTINGS
@given(data=cohorts())
def test_every_session_lies_inside_the_program_window(
    program: Program, data: dict[str, Any]
) -> None:
    cohort, timeline = _expand(program, data)
    anchor = anchor_of(program, cohort).date
    first, last = program.starts.resolve(anchor), program.ends.resolve(anchor)
    assert timeline.sessions
    for session in timeline.sessions:
        zone = ZoneInfo(session.timezone)
        starts, ends = session.starts_at.astimezone(zone), session.ends_at.astimezone(zone)
        assert first <= starts.date() <= ends.date() <= last, session.key
        assert session.starts_at < session.ends_at


@PROPERTY_SETTINGS
@given(data=cohorts())
def test_without_problems_every_session_is_inside_everyones_working_hours(
    program: Program, data: dict[str, Any]
) -> None:
    cohort, timeline = _expand(program, data)
    if timeline.problems:
        return  # the engine said what does not fit: nothing to hold it to
    for session in timeline.sessions:
        if session.kind is SessionKind.CONVENING:
            continue  # an evening and two days in person, by design
        for who, zone, hours in _constrained(program, cohort, session):
            assert _covers(hours, zone, session), f"{session.key} outside the hours of {who}"


@PROPERTY_SETTINGS
@given(data=cohorts())
def test_session_keys_and_uids_are_unique(program: Program, data: dict[str, Any]) -> None:
    _, timeline = _expand(program, data)
    keys = Counter(s.key for s in timeline.sessions)
    uids = Counter(uid_for(s.key, program.id) for s in timeline.sessions)
    assert [k for k, n in keys.items() if n > 1] == []
    assert [u for u, n in uids.items() if n > 1] == []
    assert len(uids) == len(timeline.sessions)


@PROPERTY_SETTINGS
@given(data=cohorts())
def test_expanding_twice_gives_the_same_timeline(program: Program, data: dict[str, Any]) -> None:
    _, first = _expand(program, data)
    _, second = _expand(program, data)
    assert first == second
    assert [s.starts_at for s in first.sessions] == sorted(s.starts_at for s in first.sessions)
