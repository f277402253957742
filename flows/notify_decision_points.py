"""Flow: at each decision point, the mayor's email (what to decide, by when, deliverable status)."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger

from accel.rehearsal import RehearsalClockError
from accel.settings import default_cohort_file
from flows.refusals import refused_run
from tasks.flow_clock import flow_moment
from tasks.outbox_tasks import notify_decision_points_task


@flow(name="notify_decision_points")
def notify_decision_points(
    cohort_file: str | None = None, now: dt.datetime | None = None
) -> dict[str, int]:
    """Once per mayor per decision point; the check-in invitation goes out with it.

    Without `now`, the real clock: refused (a failed run, one line) on a rehearsal database.
    """
    try:
        moment = flow_moment(now, flow="notify_decision_points")
    except RehearsalClockError as refusal:
        return refused_run(str(refusal))
    queued = notify_decision_points_task(str(cohort_file or default_cohort_file()), moment)
    get_run_logger().info("notify_decision_points at %s queued %s", moment.isoformat(), queued)
    return queued
