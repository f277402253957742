"""Flow: send every message due at `now` from the outbox, and report the counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger

from accel.rehearsal import RehearsalClockError
from flows.refusals import refused_run
from tasks.flow_clock import flow_moment
from tasks.outbox_tasks import send_due_task


@flow(name="dispatch_messages")
async def dispatch_messages(
    now: dt.datetime | None = None, limit: int | None = None, cancel_stale: bool = False
) -> dict[str, Any]:
    """Send what is due. Safe to re-run or run on several workers: rows are claimed first.

    Refused, as a failed run with one line and nothing changed: without `now` on a database
    that holds a rehearsal; and a pass that would cancel too many messages as already started
    (mail/stale_guard.py) unless `cancel_stale`.
    """
    try:
        moment = flow_moment(now, flow="dispatch_messages")
    except RehearsalClockError as refusal:
        return refused_run(str(refusal))
    counts = await send_due_task(moment, limit, cancel_stale)
    if counts["held"] is not None:
        return refused_run(counts["held"])
    get_run_logger().info("dispatch_messages at %s: %s", moment.isoformat(), counts)
    return counts
