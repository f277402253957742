"""Which deliverable and decision-point notices are due at `now` (pure; the caller queues them).

A deliverable's notices form a chain: coming-due reminders (the program's offsets before the
deadline, e.g. 7 and 1 days), then after a missed deadline the overdue notice to the team, the
escalation to the coach and finally to the mayor. A check at `now` queues the *latest* step
whose time is at most `now + horizon` (the look-ahead lets a daily check queue a notice for its
exact minute); steps it skipped are superseded, never sent late in a burst. Each step has its own
idempotency key, so re-running a check queues nothing twice. A submitted or cancelled
deliverable gets nothing more: the chain stops where it stood. A step more than `max_lateness`
behind `now` is stale (the engine was not running then) and is not sent.

Days off: a coming-due reminder on the city's weekend or public holiday moves to the same wall
time on the previous business day (a warning is worth more early than late); an overdue notice
or escalation moves to the next business day instead, since moving it earlier could announce a
deadline missed before it was (a coach's escalation keeps the coach's days off).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from calendars.business_days import DaysOff

DEFAULT_HORIZON = dt.timedelta(days=1)
DEFAULT_MAX_LATENESS = dt.timedelta(days=7)


@dataclass(frozen=True)
class DeliverableState:
    key: str
    city_id: str
    due_at: dt.datetime
    owners: tuple[str, ...]
    team: tuple[str, ...]
    coach: str
    mayor: str
    reminders: tuple[dt.timedelta, ...]
    submitted: bool
    cancelled: bool = False
    days_off: DaysOff | None = None  # the city's
    coach_days_off: DaysOff | None = None


def _earlier(off: DaysOff | None, instant: dt.datetime) -> dt.datetime:
    return off.earlier_business_moment(instant) if off is not None else instant


def _later(off: DaysOff | None, instant: dt.datetime) -> dt.datetime:
    return off.later_business_moment(instant) if off is not None else instant


@dataclass(frozen=True)
class Escalation:
    team_overdue: dt.timedelta
    coach: dt.timedelta
    mayor: dt.timedelta


@dataclass(frozen=True)
class Notice:
    kind: str
    subject_key: str
    city_id: str
    recipients: tuple[str, ...]
    send_at: dt.datetime
    idempotency_key: str


def deliverable_chain(item: DeliverableState, escalation: Escalation) -> list[Notice]:
    """Every step of a deliverable's chain, in time order."""
    steps = [
        Notice(
            "deliverable_due",
            item.key,
            item.city_id,
            item.owners,
            _earlier(item.days_off, item.due_at - offset),
            f"deliverable_due:{item.key}:{int(offset.total_seconds())}",
        )
        for offset in sorted(item.reminders, reverse=True)
    ]
    steps += [
        Notice(
            "deliverable_overdue",
            item.key,
            item.city_id,
            item.team,
            _later(item.days_off, item.due_at + escalation.team_overdue),
            f"deliverable_overdue:{item.key}",
        ),
        Notice(
            "overdue_escalation_coach",
            item.key,
            item.city_id,
            (item.coach,),
            _later(item.coach_days_off, item.due_at + escalation.coach),
            f"overdue_escalation_coach:{item.key}",
        ),
        Notice(
            "overdue_escalation_mayor",
            item.key,
            item.city_id,
            (item.mayor,),
            _later(item.days_off, item.due_at + escalation.mayor),
            f"overdue_escalation_mayor:{item.key}",
        ),
    ]
    return sorted(steps, key=lambda n: n.send_at)


def due_deliverable_notices(
    items: list[DeliverableState],
    escalation: Escalation,
    *,
    now: dt.datetime,
    horizon: dt.timedelta = DEFAULT_HORIZON,
    max_lateness: dt.timedelta = DEFAULT_MAX_LATENESS,
) -> list[Notice]:
    """The one current step of each open deliverable at `now` (see the module docstring)."""
    out = []
    for item in items:
        if item.submitted or item.cancelled:
            continue
        current = [n for n in deliverable_chain(item, escalation) if n.send_at <= now + horizon]
        if current and current[-1].send_at >= now - max_lateness:
            out.append(current[-1])
    return out


@dataclass(frozen=True)
class DecisionPointState:
    key: str
    city_id: str
    mayor: str
    notify_at: dt.datetime
    checkin_starts_at: dt.datetime
    cancelled: bool = False


def due_decision_notices(
    points: list[DecisionPointState],
    *,
    now: dt.datetime,
    horizon: dt.timedelta = DEFAULT_HORIZON,
) -> list[Notice]:
    """The mayor's email for each decision point whose moment has come and whose check-in is ahead."""
    return [
        Notice(
            "decision_point",
            point.key,
            point.city_id,
            (point.mayor,),
            max(point.notify_at, now),
            f"decision_point:{point.key}",
        )
        for point in points
        if not point.cancelled
        and point.notify_at <= now + horizon
        and point.checkin_starts_at > now
    ]
