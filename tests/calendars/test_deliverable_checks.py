"""The deliverable notice chain and decision-point notices, checked day by day on a fake clock."""

from __future__ import annotations

import datetime as dt

from calendars.deliverable_checks import (
    DecisionPointState,
    DeliverableState,
    Escalation,
    Notice,
    due_decision_notices,
    due_deliverable_notices,
)

DUE = dt.datetime(2024, 9, 18, 20, 0, tzinfo=dt.UTC)  # 17:00 in Santiago (UTC-3)
ESCALATION = Escalation(dt.timedelta(days=1), dt.timedelta(days=4), dt.timedelta(days=8))


def _item(submitted: bool = False) -> DeliverableState:
    return DeliverableState(
        key="c/deliverable/santiago/outline",
        city_id="santiago",
        due_at=DUE,
        owners=("cdo@x.example.org",),
        team=("a@x.example.org", "cdo@x.example.org"),
        coach="coach@govex.example.org",
        mayor="mayor@x.example.org",
        reminders=(dt.timedelta(days=7), dt.timedelta(days=1)),
        submitted=submitted,
    )


def _run_daily(
    start: dt.datetime, days: int, submitted_on: dt.datetime | None = None
) -> list[Notice]:
    """Check once a day at 12:00 UTC, as the scheduled flow does; queue each key once."""
    queued: dict[str, Notice] = {}
    for day in range(days):
        now = start + dt.timedelta(days=day)
        submitted = submitted_on is not None and submitted_on <= now
        for notice in due_deliverable_notices([_item(submitted)], ESCALATION, now=now):
            queued.setdefault(notice.idempotency_key, notice)
    return sorted(queued.values(), key=lambda n: n.send_at)


START = dt.datetime(2024, 9, 1, 12, 0, tzinfo=dt.UTC)


def test_never_submitted_reaches_the_mayor_exactly_once() -> None:
    notices = _run_daily(START, 40)
    assert [n.kind for n in notices] == [
        "deliverable_due",
        "deliverable_due",
        "deliverable_overdue",
        "overdue_escalation_coach",
        "overdue_escalation_mayor",
    ]
    assert [n.send_at for n in notices] == [
        DUE - dt.timedelta(days=7),
        DUE - dt.timedelta(days=1),
        DUE + dt.timedelta(days=1),
        DUE + dt.timedelta(days=4),
        DUE + dt.timedelta(days=8),
    ]
    assert notices[-1].recipients == ("mayor@x.example.org",)
    assert notices[3].recipients == ("coach@govex.example.org",)


def test_submitted_on_time_gets_no_escalation() -> None:
    notices = _run_daily(START, 40, submitted_on=DUE - dt.timedelta(days=2))
    assert [n.kind for n in notices] == ["deliverable_due"]


def test_submitted_late_stops_the_chain_where_it_stood() -> None:
    notices = _run_daily(START, 40, submitted_on=DUE + dt.timedelta(days=5))
    assert [n.kind for n in notices][-1] == "overdue_escalation_coach"
    assert "overdue_escalation_mayor" not in [n.kind for n in notices]


def test_a_late_first_check_sends_only_the_current_step() -> None:
    now = DUE + dt.timedelta(days=5)  # the engine starts five days after the deadline
    [notice] = due_deliverable_notices([_item()], ESCALATION, now=now)
    assert notice.kind == "overdue_escalation_coach"
    stale = due_deliverable_notices([_item()], ESCALATION, now=DUE + dt.timedelta(days=30))
    assert stale == []


def test_decision_point_once_and_only_before_the_checkin() -> None:
    checkin = dt.datetime(2024, 9, 30, 14, 0, tzinfo=dt.UTC)
    point = DecisionPointState(
        "c/decision/santiago/direction",
        "santiago",
        "mayor@x.example.org",
        checkin - dt.timedelta(days=7),
        checkin,
    )
    assert due_decision_notices([point], now=checkin - dt.timedelta(days=9)) == []
    [early] = due_decision_notices([point], now=checkin - dt.timedelta(days=7, hours=12))
    assert early.send_at == checkin - dt.timedelta(days=7)  # queued ahead for its exact minute
    [late] = due_decision_notices([point], now=checkin - dt.timedelta(days=2))
    assert late.idempotency_key == early.idempotency_key
    assert due_decision_notices([point], now=checkin) == []
