"""Flow: validate a cohort, reconcile it with the database and queue what follows from it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger

from accel.rehearsal import RehearsalClockError
from accel.settings import default_cohort_file
from flows.refusals import refused_run
from tasks.cohort_tasks import reconcile_task
from tasks.flow_clock import flow_moment


@flow(name="sync_cohort", log_prints=False)
def sync_cohort(
    cohort_file: str | None = None, now: dt.datetime | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """Validate, plan and (unless `dry_run`) apply. Safe to re-run: a second run changes nothing.

    Without `now`, the real clock: refused (a failed run, one line) on a rehearsal database.
    """
    try:
        moment = flow_moment(now, flow="sync_cohort", records=not dry_run)
    except RehearsalClockError as refusal:
        return refused_run(str(refusal))
    plan = reconcile_task(str(cohort_file or default_cohort_file()), moment, dry_run)
    summary = {
        "cohort": plan.cohort_id,
        "dry_run": dry_run,
        "sessions": len(plan.sessions),
        "invitations": sum(1 for i in plan.invitations if i.notify),
        "deliverables": len(plan.deliverables),
        "past_unchanged": len(plan.past_unchanged),
    }
    get_run_logger().info("sync_cohort %s", summary)
    return summary
