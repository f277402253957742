"""RRULE expansion: the days dateutil gives, without its search to the year 9999, and no abuse.

`calendars.recurrence` expands the subset of RFC 5545 a program uses by itself, period by
period, never more than three years ahead. Generated rules are compared with dateutil's
expansion wherever dateutil's days fall within those three years.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from dateutil import rrule
from hypothesis import given, settings
from hypothesis import strategies as st

from calendars.recurrence import HORIZON, RecurrenceRuleError, check_rule, occurrence_days
from models.enums import Weekday

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@st.composite
def rules(draw: st.DrawFn) -> str:
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY"]))
    parts = [f"FREQ={freq}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 6))}")
    days = draw(st.lists(st.sampled_from(WEEKDAYS), max_size=3, unique=True))
    if freq == "MONTHLY" and days and draw(st.booleans()):
        days = [f"{draw(st.sampled_from(['', '-']))}{draw(st.integers(1, 5))}{d}" for d in days]
    if days:
        parts.append("BYDAY=" + ",".join(days))
    monthdays = st.lists(st.sampled_from([1, 2, 13, 15, 28, 29, 30, 31, -1, -2]), min_size=1)
    if freq != "WEEKLY" and (draw(st.booleans()) or (freq == "MONTHLY" and not days)):
        parts.append("BYMONTHDAY=" + ",".join(map(str, draw(monthdays))))
    if draw(st.booleans()):
        parts.append(f"WKST={draw(st.sampled_from(WEEKDAYS))}")
    if draw(st.booleans()):
        parts.append(f"COUNT={draw(st.integers(1, 15))}")
    else:
        until = dt.date(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 500)))
        parts.append(f"UNTIL={until:%Y%m%d}")
    return ";".join(parts)


def dateutil_days(rule: str, start: dt.date, limit: int) -> list[dt.date]:
    dtstart = dt.datetime(start.year, start.month, start.day)
    days = []
    for occurrence in rrule.rrulestr(rule, dtstart=dtstart, cache=False):
        days.append(occurrence.date())
        if len(days) > limit:
            break
    return days


@settings(max_examples=300, deadline=None, derandomize=True)
@given(rule=rules(), offset=st.integers(0, 400))
def test_days_are_dateutils_within_the_horizon(rule: str, offset: int) -> None:
    start = dt.date(2024, 1, 1) + dt.timedelta(days=offset)
    try:
        ours = occurrence_days(rule, start)
    except RecurrenceRuleError:
        ours = None
    theirs = dateutil_days(rule, start, 60)
    if theirs and theirs[-1] <= start + HORIZON and len(theirs) <= 60:
        assert ours == theirs, rule
    elif ours is not None:
        # dateutil reaches past three years: we stop (an error) or found nothing within them.
        assert ours == [] or ours == theirs[: len(ours)], rule


def test_the_shipped_rules() -> None:
    assert occurrence_days("FREQ=MONTHLY;BYDAY=2TU;COUNT=5", dt.date(2024, 7, 3)) == [
        dt.date(2024, 7, 9),
        dt.date(2024, 8, 13),
        dt.date(2024, 9, 10),
        dt.date(2024, 10, 8),
        dt.date(2024, 11, 12),
    ]
    coaching = occurrence_days("FREQ=WEEKLY;INTERVAL=2;COUNT=11", dt.date(2024, 7, 10), Weekday.TU)
    assert coaching[:3] == [dt.date(2024, 7, 23), dt.date(2024, 8, 6), dt.date(2024, 8, 20)]
    assert len(coaching) == 11


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("FREQ=SECONDLY;COUNT=5", "FREQ must be DAILY, WEEKLY or MONTHLY"),
        ("FREQ=YEARLY;COUNT=5", "FREQ must be DAILY, WEEKLY or MONTHLY"),
        ("FREQ=WEEKLY", "the rule must end"),
        ("FREQ=WEEKLY;COUNT=100000", "more than 60 occurrences"),
        ("FREQ=WEEKLY;COUNT=0", "COUNT=0 is not a whole number"),
        ("FREQ=DAILY;UNTIL=99991231", "more than 60 occurrences"),
        ("FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20991231", "runs on past"),
        ("FREQ=DAILY;UNTIL=20240230", "UNTIL=20240230 is not a date"),
        ("FREQ=WEEKLY;COUNT=2;UNTIL=20241231", "not both"),
        ("FREQ=DAILY;COUNT=5;BYHOUR=9,12", "BYHOUR is not supported"),
        ("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30;COUNT=5", "BYMONTH is not supported"),
        ("FREQ=MONTHLY;BYDAY=TU;BYSETPOS=9;COUNT=5", "BYSETPOS is not supported"),
        ("FREQ=MONTHLY;BYDAY=99TU;COUNT=5", "at most five"),
        ("FREQ=WEEKLY;BYDAY=2TU;COUNT=5", "needs FREQ=MONTHLY"),
        ("FREQ=MONTHLY;BYMONTHDAY=0;COUNT=5", "BYMONTHDAY=0"),
        ("FREQ=WEEKLY;INTERVAL=99999999;COUNT=5", "INTERVAL=99999999"),
        ("FREQ=WEEKLY;COUNT=5;DTSTART=20240101", "not DTSTART"),
        ("FREQ=WEEKLY;COUNT=5;COUNT=6", "given twice"),
        ("FREQ=WEEKLY;COUNT", "malformed rule part"),
        ("FREQ=MONTHLY;BYDAY=5MO;BYMONTHDAY=1;COUNT=3", "no occurrence"),
        ("FREQ=DAILY;INTERVAL=7;BYDAY=TU;COUNT=3", "no occurrence"),  # 2024-01-01 is a Monday
    ],
)
def test_abusive_or_impossible_rules_are_refused_quickly(rule: str, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(RecurrenceRuleError, match=message):
        check_rule(rule)
    assert time.perf_counter() - started < 1.0  # dateutil: seconds per impossible rule
