"""The deployments of the engine: one dispatcher, and each cohort's checks and triggered flows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CohortDeployment:
    """A cohort to deploy: its id names its deployments; its file is the flows' `cohort_file`."""

    cohort_id: str
    cohort_file: str


def deployment_name(name: str, cohort_id: str) -> str:
    """A cohort's deployment's name, e.g. `sync-cohort-cda-2025`: unique across cohorts, while
    the one dispatcher (it sends every cohort's outbox) keeps its plain `dispatch-messages`."""
    return f"{name}-{cohort_id}"


def build_deployments(
    cohorts: Sequence[CohortDeployment], *, dispatch_every: dt.timedelta = DISPATCH_EVERY
) -> list[Any]:
    """The dispatcher, then each cohort's deployments; `dispatch_every` is shortened by tests."""
    ids = [c.cohort_id for c in cohorts]
    if len(set(ids)) != len(ids):
        raise ValueError(f"a cohort is named twice: {ids}")
    dispatcher = dispatch_messages.to_deployment(
        name="dispatch-messages",
        schedules=[Interval(dispatch_every, anchor_date=DISPATCH_ANCHOR)],
        description="Send what the outbox has due (every cohort's), every few minutes.",
    )
    return [dispatcher] + [d for cohort in cohorts for d in cohort_deployments(cohort)]


def cohort_deployments(cohort: CohortDeployment) -> list[Any]:
    """The daily checks and the triggered flows of one cohort, its file as their parameter."""
    parameters = {"cohort_file": cohort.cohort_file}
    of = cohort.cohort_id
    return [
        check_deliverables.to_deployment(
            name=deployment_name("check-deliverables", of),
            schedules=[Cron("0 8 * * *", timezone=DAILY_CHECKS_ZONE)],
            parameters=parameters,
            description=f"{of}: daily at 08:00 New York time: reminders, overdue notices, "
            "escalations.",
        ),
        notify_decision_points.to_deployment(
            name=deployment_name("notify-decision-points", of),
            schedules=[Cron("30 8 * * *", timezone=DAILY_CHECKS_ZONE)],
            parameters=parameters,
            description=f"{of}: daily at 08:30 New York time: mayors' decision-point emails.",
        ),
        sync_cohort.to_deployment(
            name=deployment_name("sync-cohort", of),
            parameters=parameters,
            description=f"{of}: triggered by operations after editing the files.",
        ),
        reschedule_session.to_deployment(
            name=deployment_name("reschedule-session", of),
            parameters=parameters,
            description=f"{of}: triggered: move a session (key or glob).",
        ),
        cancel_session.to_deployment(
            name=deployment_name("cancel-session", of),
            parameters=parameters,
            description=f"{of}: triggered: cancel a session (key or glob).",
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
