"""Reminders and notices on the recipient's business days: never a weekend or public holiday."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendars.business_days import DaysOff, business_send_at
from calendars.deliverable_checks import DeliverableState, Escalation, deliverable_chain
from mail.reminders import reminder_send_at

QUIET = (dt.time(22), dt.time(7))
DAY = dt.timedelta(days=1)
# No daylight saving (Bogotá, Mexico City since 2022), clocks that change (New York; Santiago
# and Asunción, southern: forward in September and October), and a holiday-heavy country.
ZONES = {
    "America/Bogota": "CO",
    "America/Mexico_City": "MX",
    "America/New_York": "US",
    "America/Santiago": "CL",
    "America/Asuncion": "PY",
}


def _local(instant: dt.datetime, zone: str) -> dt.datetime:
    return instant.astimezone(ZoneInfo(zone))


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=dt.datetime(2024, 7, 1),
        max_value=dt.datetime(2024, 12, 20),
        timezones=st.just(dt.UTC),
    ),
    minutes=st.integers(min_value=60, max_value=8 * 24 * 60),
    zone=st.sampled_from(sorted(ZONES)),
)
def test_a_reminder_lands_on_a_business_day_outside_quiet_hours_before_the_start(
    start: dt.datetime, minutes: int, zone: str
) -> None:
    off = DaysOff.of(zone, ZONES[zone], None, (2024,))
    sent = reminder_send_at(
        start, dt.timedelta(minutes=minutes), zone=zone, quiet=QUIET, days_off=off
    )
    local = _local(sent, zone)
    assert not off.is_off(local.date()), (local, off.why_off(local.date()))
    assert not (local.time() >= QUIET[0] or local.time() < QUIET[1])
    assert sent < start
    # Unmoved when the quiet-hours moment was already a business day.
    plain = reminder_send_at(start, dt.timedelta(minutes=minutes), zone=zone, quiet=QUIET)
    if not off.is_off(_local(plain, zone).date()):
        assert sent == plain


@pytest.mark.parametrize(
    ("zone", "session_local", "expected_local"),
    [
        # Mexico City's session on Tuesday 17 Sep: the day-before reminder would land on
        # Independence Day (Monday 16 Sep), so it goes on Friday 13 Sep at the same hour.
        ("America/Mexico_City", dt.datetime(2024, 9, 17, 10), dt.datetime(2024, 9, 13, 10)),
        # Santiago, Monday 9 Sep 10:00, the day after the clocks went forward: Friday 10:00.
        ("America/Santiago", dt.datetime(2024, 9, 9, 10), dt.datetime(2024, 9, 6, 10)),
        # New York, Monday 4 Nov 2024, the day after the clocks went back: Friday 10:00.
        ("America/New_York", dt.datetime(2024, 11, 4, 10), dt.datetime(2024, 11, 1, 10)),
        # Bogotá, no DST: Tuesday 8 Oct; Monday 7 Oct is no holiday in Colombia, unmoved.
        ("America/Bogota", dt.datetime(2024, 10, 8, 10), dt.datetime(2024, 10, 7, 10)),
    ],
)
def test_a_day_before_reminder_moves_to_the_previous_business_day_at_the_same_wall_time(
    zone: str, session_local: dt.datetime, expected_local: dt.datetime
) -> None:
    off = DaysOff.of(zone, ZONES[zone], None, (2024,))
    starts_at = session_local.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)
    sent = reminder_send_at(starts_at, DAY, zone=zone, quiet=QUIET, days_off=off)
    assert _local(sent, zone).replace(tzinfo=None) == expected_local


def _outline(due_local: dt.datetime) -> DeliverableState:
    chile = DaysOff.of("America/Santiago", "CL", None, (2024,))
    return DeliverableState(
        key="c/deliverable/santiago/outline",
        city_id="santiago",
        due_at=due_local.replace(tzinfo=ZoneInfo("America/Santiago")).astimezone(dt.UTC),
        owners=("team@santiago.example.org",),
        team=("team@santiago.example.org",),
        coach="coach@govex.example.org",
        mayor="mayor@santiago.example.org",
        reminders=(7 * DAY, DAY),
        submitted=False,
        days_off=chile,
        coach_days_off=DaysOff.of("America/Bogota", None, None, (2024,)),
    )


def test_coming_due_moves_earlier_and_overdue_moves_later_never_before_the_deadline() -> None:
    # Due Tuesday 17 Sep 17:00; 18-20 Sep are holidays in Chile, 21-22 a weekend.
    item = _outline(dt.datetime(2024, 9, 17, 17))
    chain = {
        n.kind: _local(n.send_at, "America/Santiago")
        for n in deliverable_chain(item, Escalation(DAY, 4 * DAY, 8 * DAY))
    }
    assert chain["deliverable_due"].date() == dt.date(2024, 9, 16)  # the 1-day reminder
    assert chain["deliverable_overdue"].replace(tzinfo=None) == dt.datetime(2024, 9, 23, 17)
    coach = _local(
        next(
            n
            for n in deliverable_chain(item, Escalation(DAY, 4 * DAY, 8 * DAY))
            if n.kind == "overdue_escalation_coach"
        ).send_at,
        "America/Bogota",
    )
    assert coach.date() == dt.date(2024, 9, 23)  # Saturday 21 Sep: the coach's Monday
    assert chain["overdue_escalation_mayor"].date() == dt.date(2024, 9, 25)


def test_a_message_due_now_on_a_holiday_waits_unless_the_session_comes_first() -> None:
    mexico = DaysOff.of("America/Mexico_City", "MX", None, (2024,))
    now = dt.datetime(2024, 9, 16, 16, tzinfo=dt.UTC)  # 10:00 on Independence Day
    later = dt.datetime(2024, 9, 20, 16, tzinfo=dt.UTC)
    assert _local(business_send_at(mexico, now, now=now, before=later), mexico.zone).date() == (
        dt.date(2024, 9, 17)
    )
    soon = now + dt.timedelta(hours=3)
    assert business_send_at(mexico, now, now=now, before=soon) == now
