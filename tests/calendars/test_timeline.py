"""Expansion of the shipped program: the seed's dates, and wall times kept across clock changes."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from accel.inputs import load_inputs
from calendars.timeline import expand_timeline
from calendars.timeline_types import LoadedInputs, TimelineSession, uid_for
from models.enums import Audience, SessionKind

UTC = dt.UTC


def _local(moment: dt.datetime, zone: str) -> dt.datetime:
    return moment.astimezone(ZoneInfo(zone))


def _series(inputs: LoadedInputs, series: str, city: str | None = None) -> list[TimelineSession]:
    return [s for s in inputs.timeline.sessions if s.series == series and s.city_id == city]


def test_convening_matches_the_seed_exactly(shipped: LoadedInputs) -> None:
    [convening] = [s for s in shipped.timeline.sessions if s.kind is SessionKind.CONVENING]
    start = _local(convening.starts_at, "America/New_York")
    end = _local(convening.ends_at, "America/New_York")
    assert (start.strftime("%A"), start.date(), start.time()) == (
        "Wednesday",
        dt.date(2024, 6, 26),
        dt.time(18, 0),
    )
    assert (end.strftime("%A"), end.date(), end.time()) == (
        "Friday",
        dt.date(2024, 6, 28),
        dt.time(15, 0),
    )
    assert convening.starts_at == dt.datetime(2024, 6, 26, 22, 0, tzinfo=UTC)  # EDT is UTC-4
    assert (
        convening.location.startswith("Johns Hopkins University")
        and "Baltimore" in convening.location
    )
    mayors = {p.key for p in shipped.timeline.people.values() if p.role == Audience.MAYOR}
    required = {a.person for a in convening.attendees if a.required}
    assert mayors == required and len(mayors) == len(shipped.cohort.cities)
    assert shipped.program.convening is not None and shipped.program.convening.substitutes is False


def test_masterclasses_monthly_july_to_november(shipped: LoadedInputs) -> None:
    classes = _series(shipped, "masterclass")
    months = [_local(s.starts_at, "America/New_York").month for s in classes]
    assert months == [7, 8, 9, 10, 11]
    # 12:00 in New York on both sides of the US change of 3 November 2024.
    assert [_local(s.starts_at, "America/New_York").time() for s in classes] == [dt.time(12)] * 5
    assert classes[3].starts_at.hour == 16 and classes[4].starts_at.hour == 17
    everyone = {p.key for p in shipped.timeline.people.values() if p.city_id and p.role != "mayor"}
    assert everyone <= {a.person for a in classes[0].attendees}


@pytest.mark.parametrize(
    ("city", "change", "before", "after"),
    [
        ("santiago", dt.date(2024, 9, 8), dt.timedelta(hours=-4), dt.timedelta(hours=-3)),
        ("asuncion", dt.date(2024, 10, 6), dt.timedelta(hours=-4), dt.timedelta(hours=-3)),
        ("pittsburgh", dt.date(2024, 11, 3), dt.timedelta(hours=-4), dt.timedelta(hours=-5)),
        ("denver", dt.date(2024, 11, 3), dt.timedelta(hours=-6), dt.timedelta(hours=-7)),
    ],
)
def test_coaching_keeps_local_time_across_clock_change(
    shipped: LoadedInputs, city: str, change: dt.date, before: dt.timedelta, after: dt.timedelta
) -> None:
    zone = next(c.timezone for c in shipped.cohort.cities if c.id == city)
    sessions = _series(shipped, "coaching", city)
    locals_ = [_local(s.starts_at, zone) for s in sessions]
    assert len({t.time() for t in locals_}) == 1, "one local hour for the whole series"
    assert len({t.weekday() for t in locals_}) == 1
    offsets = (
        {t.utcoffset() for t in locals_ if t.date() < change},
        {t.utcoffset() for t in locals_ if t.date() > change},
    )
    assert offsets == ({before}, {after})
    gaps = {b.date() - a.date() for a, b in itertools.pairwise(locals_)}
    assert gaps == {dt.timedelta(days=14)}


def test_mexico_city_has_no_daylight_saving(shipped: LoadedInputs) -> None:
    for session in _series(shipped, "coaching", "mexico-city"):
        assert _local(session.starts_at, "America/Mexico_City").utcoffset() == dt.timedelta(
            hours=-6
        )


def test_every_session_is_inside_everyones_working_hours(shipped: LoadedInputs) -> None:
    cities = {c.id: c for c in shipped.cohort.cities}
    coaches = {c.email: c for c in shipped.cohort.coaches}
    for session in shipped.timeline.sessions:
        if session.kind is SessionKind.CONVENING:
            continue  # the convening is in person, evening to afternoon, by design
        for attendee in session.attendees:
            person = shipped.timeline.people[attendee.person]
            if person.role == "organizer":
                continue
            zone = (
                coaches[person.key].timezone
                if person.key in coaches
                else cities[person.city_id or ""].timezone
            )
            start, end = _local(session.starts_at, zone), _local(session.ends_at, zone)
            assert start.weekday() < 5, (session.key, person.key)
            assert dt.time(9) <= start.time() and end.time() <= dt.time(18), (
                session.key,
                person.key,
                start,
            )


def test_nobody_is_double_booked(shipped: LoadedInputs) -> None:
    by_person: dict[str, list[TimelineSession]] = defaultdict(list)
    for session in shipped.timeline.sessions:
        for attendee in session.attendees:
            if shipped.timeline.people[attendee.person].role != "organizer":
                by_person[attendee.person].append(session)
    for person, sessions in by_person.items():
        sessions.sort(key=lambda s: s.starts_at)
        for first, second in itertools.pairwise(sessions):
            assert first.ends_at <= second.starts_at, (person, first.key, second.key)


def test_keys_and_uids_are_unique_and_deterministic(shipped: LoadedInputs) -> None:
    again = expand_timeline(shipped.program, shipped.cohort)
    assert [s.key for s in again.sessions] == [s.key for s in shipped.timeline.sessions]
    assert again.sessions == shipped.timeline.sessions
    uids = [uid_for(s.key, shipped.program.id) for s in shipped.timeline.sessions]
    assert len(set(uids)) == len(uids)
    assert "cda-2024.coaching.santiago.01@cda-accelerator.accelerator" in uids


def test_workshops_run_in_one_language(shipped: LoadedInputs) -> None:
    workshops = _series(shipped, "workshop")
    assert workshops
    for session in workshops:
        languages = {
            shipped.timeline.people[a.person].language
            for a in session.attendees
            if shipped.timeline.people[a.person].city_id
        }
        assert languages == {session.language}


def test_deliverables_and_decision_points(shipped: LoadedInputs) -> None:
    santiago = {d.deliverable: d for d in shipped.timeline.deliverables if d.city_id == "santiago"}
    assert list(santiago) == [
        "roster",
        "priorities",
        "maturity-assessment",
        "strategy-outline",
        "draft-strategy",
        "final-strategy",
    ]
    final = _local(santiago["final-strategy"].due_at, "America/Santiago")
    assert (final.year, final.month, final.time()) == (2024, 12, dt.time(17))
    assert santiago["roster"].due_at < dt.datetime(2024, 6, 26, tzinfo=UTC)
    points = [p for p in shipped.timeline.decision_points if p.city_id == "santiago"]
    assert [p.decision_point for p in points] == ["priorities", "direction", "endorsement"]
    sessions = {s.key: s for s in shipped.timeline.sessions}
    for point in points:
        checkin = sessions[point.checkin_session]
        assert checkin.kind is SessionKind.MAYOR_CHECKIN
        assert {a.person for a in checkin.attendees if a.required} >= {
            "alcaldesa@santiago.example.org"
        }
        assert point.notify_at == checkin.starts_at - dt.timedelta(days=7)


def test_a_later_cohort_reuses_the_program_with_its_own_convening(workspace: Path) -> None:
    cohort = workspace / "cohorts" / "small.yaml"
    text = cohort.read_text().replace("cohort: test-small", "cohort: test-2025")
    text += (
        "convening:\n  date: 2025-06-25\n  timezone: America/Chicago\n"
        '  venue: {name: Convention Center, address: "Chicago, IL"}\n'
    )
    cohort.write_text(text)
    inputs = load_inputs(cohort)
    [convening] = [s for s in inputs.timeline.sessions if s.kind is SessionKind.CONVENING]
    start = _local(convening.starts_at, "America/Chicago")
    assert (start.date(), start.time()) == (dt.date(2025, 6, 25), dt.time(18))
    assert convening.location.startswith("Convention Center")
    final = next(d for d in inputs.timeline.deliverables if d.deliverable == "final-strategy")
    assert final.due_at.date() == dt.date(2025, 12, 10)
