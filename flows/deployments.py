"""The deployments of the engine, with their schedules: one list for `accel serve` and docs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.schedules import Cron, Interval

from flows.change_sessions import cancel_session, reschedule_session
from flows.check_deliverables import check_deliverables
from flows.dispatch_messages import dispatch_messages
from flows.notify_decision_points import notify_decision_points
from flows.sync_cohort import sync_cohort

DAILY_CHECKS_ZONE = "America/New_York"  # the organizer's zone: checks run at 08:00 and 08:30 there
DISPATCH_EVERY = dt.timedelta(minutes=5)
# Interval schedules need a fixed anchor, or Prefect anchors them on the registration time.
DISPATCH_ANCHOR = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def build_deployments(
    cohort_file: str, *, dispatch_every: dt.timedelta = DISPATCH_EVERY
) -> list[Any]:
    """Every deployment for one cohort; `dispatch_every` is shortened only by tests."""
    cohort = {"cohort_file": cohort_file}
    return [
        dispatch_messages.to_deployment(
            name="dispatch-messages",
            schedules=[Interval(dispatch_every, anchor_date=DISPATCH_ANCHOR)],
            description="Send what the outbox has due, every few minutes.",
        ),
        check_deliverables.to_deployment(
            name="check-deliverables",
            schedules=[Cron("0 8 * * *", timezone=DAILY_CHECKS_ZONE)],
            parameters=cohort,
            description="Daily at 08:00 New York time: reminders, overdue notices, escalations.",
        ),
        notify_decision_points.to_deployment(
            name="notify-decision-points",
            schedules=[Cron("30 8 * * *", timezone=DAILY_CHECKS_ZONE)],
            parameters=cohort,
            description="Daily at 08:30 New York time: mayors' decision-point emails.",
        ),
        sync_cohort.to_deployment(
            name="sync-cohort",
            parameters=cohort,
            description="Triggered by operations after editing the files.",
        ),
        reschedule_session.to_deployment(
            name="reschedule-session",
            parameters=cohort,
            description="Triggered: move a session (key or glob).",
        ),
        cancel_session.to_deployment(
            name="cancel-session",
            parameters=cohort,
            description="Triggered: cancel a session (key or glob).",
        ),
    ]


def _every(interval: dt.timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"every {seconds // size} {unit}"
    return f"every {seconds} s"


def describe_schedules(deployment: Any) -> str:
    """A deployment's schedules in words, e.g. `every 5 min` or `cron 0 8 * * * (America/New_York)`;
    deployments without one are triggered: `prefect deployment run 'flow/deployment'`."""
    words = []
    for item in deployment.schedules or []:
        schedule = item.schedule
        if isinstance(schedule, IntervalSchedule):
            words.append(_every(schedule.interval))
        elif isinstance(schedule, CronSchedule):
            words.append(f"cron {schedule.cron} ({schedule.timezone})")
        else:
            words.append(str(schedule))
    if not words:
        return f"triggered: prefect deployment run '{deployment.flow_name}/{deployment.name}'"
    return "; ".join(words)
