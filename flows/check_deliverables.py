"""Flow: queue the coming-due reminders, overdue notices and escalations due at `now`."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger

from accel.rehearsal import RehearsalClockError
from accel.settings import default_cohort_file
from flows.refusals import refused_run
from tasks.flow_clock import flow_moment
from tasks.outbox_tasks import check_deliverables_task


@flow(name="check_deliverables")
def check_deliverables(
    cohort_file: str | None = None, now: dt.datetime | None = None
) -> dict[str, int]:
    """Each notice once; a submitted deliverable's chain stops. The dispatcher sends them.

    Without `now`, the real clock: refused (a failed run, one line) on a rehearsal database.
    """
    try:
        moment = flow_moment(now, flow="check_deliverables")
    except RehearsalClockError as refusal:
        return refused_run(str(refusal))
    queued = check_deliverables_task(str(cohort_file or default_cohort_file()), moment)
    get_run_logger().info("check_deliverables at %s queued %s", moment.isoformat(), queued)
    return queued
