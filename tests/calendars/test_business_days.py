"""Public holidays and business days: the slot picker, deadlines and validate's warnings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from calendars.business_days import DaysOff, shift_off_days
from calendars.slots import to_local
from calendars.timeline import expand_timeline
from calendars.timeline_types import Timeline
from models.cohort_file import Cohort
from models.enums import Policy
from models.file_loading import load_cohort, load_program
from models.problems import InvalidInputError, Severity
from models.program_file import DeadlineOnHoliday, Program

REPO = Path(__file__).resolve().parents[2]
YEARS = (2024,)


def _program(**changes: Any) -> Program:
    raw = (REPO / "programs" / "cda-accelerator.yaml").read_bytes()
    return load_program(raw, "program.yaml").model_copy(update=changes)


def _cohort(city_id: str, **city_changes: Any) -> Cohort:
    """The shipped 2024 cohort cut down to one city (and its coach), with `city_changes`."""
    data = yaml.safe_load((REPO / "cohorts" / "cda-2024.yaml").read_bytes())
    city = next(c for c in data["cities"] if c["id"] == city_id) | city_changes
    data["cities"] = [city]
    data["coaches"] = [c for c in data["coaches"] if c["id"] == city["coach"]]
    return load_cohort(yaml.safe_dump(data, allow_unicode=True).encode(), "cohort.yaml")


def _local_days(timeline: Timeline, series: str) -> list[dt.date]:
    return [
        to_local(s.starts_at, s.timezone).date() for s in timeline.sessions if s.series == series
    ]


def test_days_off_name_the_holidays_of_the_measured_cases() -> None:
    cases = {
        ("MX", "America/Mexico_City"): dt.date(2024, 9, 16),
        ("AR", "America/Argentina/Buenos_Aires"): dt.date(2024, 7, 9),
        ("CL", "America/Santiago"): dt.date(2024, 9, 18),
        ("UY", "America/Montevideo"): dt.date(2024, 7, 18),
        ("JM", "America/Jamaica"): dt.date(2024, 8, 6),
        ("PE", "America/Lima"): dt.date(2024, 10, 8),
        ("PY", "America/Asuncion"): dt.date(2024, 9, 30),
    }
    for (country, zone), day in cases.items():
        off = DaysOff.of(zone, country, None, YEARS)
        assert off.is_holiday(day) and off.is_off(day), (country, day)
        assert not off.is_off(off.previous_business_day(day))
    santiago = DaysOff.of("America/Santiago", "CL", None, YEARS)
    assert santiago.previous_business_day(dt.date(2024, 9, 18)) == dt.date(2024, 9, 17)
    assert santiago.why_off(dt.date(2024, 9, 21)) == "Saturday"


def test_a_reminder_moves_to_the_same_wall_time_on_the_previous_business_day() -> None:
    # Chile changes clocks on Sunday 8 Sep 2024: the move keeps 09:00 local, not the UTC hour.
    santiago = DaysOff.of("America/Santiago", "CL", None, YEARS)
    sunday_nine = dt.datetime(2024, 9, 8, 13, tzinfo=dt.UTC)  # 10:00 local, UTC-3 since 00:00
    moved = santiago.earlier_business_moment(sunday_nine)
    assert to_local(moved, santiago.zone).date() == dt.date(2024, 9, 6)
    assert to_local(moved, santiago.zone).time() == to_local(sunday_nine, santiago.zone).time()


def test_shift_moves_only_the_holiday_occurrence_to_the_next_free_weekday() -> None:
    days = [dt.date(2024, 7, 23), dt.date(2024, 8, 6), dt.date(2024, 8, 20)]
    assert shift_off_days(days, frozenset({dt.date(2024, 8, 6)})) == [
        dt.date(2024, 7, 23),
        dt.date(2024, 8, 7),
        dt.date(2024, 8, 20),
    ]


def test_a_coaching_date_on_the_citys_public_holiday_moves() -> None:
    # Kingston coaching pinned to Tuesdays at 10:00: with no Jamaican holidays (a US city in the
    # same zone) one lands on Tuesday 6 August; Jamaica's Independence Day moves it a day later.
    pinned = {"coaching": {"weekday": "TU", "time": "10:00"}}
    program = _program()
    plain = expand_timeline(program, _cohort("kingston", country="US", **pinned))
    jamaica = expand_timeline(program, _cohort("kingston", **pinned))
    before, after = _local_days(plain, "coaching"), _local_days(jamaica, "coaching")
    assert dt.date(2024, 8, 6) in before
    assert dt.date(2024, 8, 6) not in after and dt.date(2024, 8, 7) in after
    assert sorted(set(before) ^ set(after)) == [dt.date(2024, 8, 6), dt.date(2024, 8, 7)]
    assert not [p for p in jamaica.problems if "holiday" in p.message]


@pytest.mark.parametrize(
    ("policy", "severity"), [(Policy.WARN, Severity.WARNING), (Policy.ERROR, Severity.ERROR)]
)
def test_a_deadline_on_a_holiday_is_reported_or_moved(policy: Policy, severity: Severity) -> None:
    cohort = _cohort("santiago")
    keep = expand_timeline(
        _program(deadline_on_holiday=DeadlineOnHoliday.KEEP, holiday_policy=policy), cohort
    )
    found = [p for p in keep.problems if "strategy-outline" in p.message]
    assert [(p.severity, p.place) for p in found] == [(severity, "deliverables[3]")]
    assert "2024-09-18 (Independence Day) in santiago" in found[0].message
    moved = expand_timeline(_program(), cohort)  # the shipped program moves deadlines
    outline = next(d for d in moved.deliverables if d.deliverable == "strategy-outline")
    assert to_local(outline.due_at, "America/Santiago").date() == dt.date(2024, 9, 17)
    assert not [p for p in moved.problems if "strategy-outline" in p.message]


def test_a_blackout_date_is_avoided_like_a_holiday() -> None:
    cohort = _cohort("santiago")
    first = _local_days(expand_timeline(_program(), cohort), "coaching")[2]
    later = _local_days(expand_timeline(_program(blackout_dates=[first]), cohort), "coaching")
    assert first not in later


def test_the_shipped_cohorts_have_nothing_on_a_citys_day_off() -> None:
    program = _program()
    for name in ("cda-2024", "cda-2025"):
        raw = (REPO / "cohorts" / f"{name}.yaml").read_bytes()
        timeline = expand_timeline(program, load_cohort(raw, f"{name}.yaml"))
        assert [p.message for p in timeline.problems] == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"country": "XX"}, "no public-holiday calendar for country 'XX'"),
        ({"subdivision": "ZZ"}, "CL has no subdivision 'ZZ'"),
    ],
)
def test_an_unknown_country_or_subdivision_is_refused(
    change: dict[str, str], expected: str
) -> None:
    with pytest.raises(InvalidInputError) as error:
        _cohort("santiago", **change)
    assert any(expected in p.message for p in error.value.problems)
