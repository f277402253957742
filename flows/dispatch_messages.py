"""Flow: send every message due at `now` from the outbox, and report the counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger

from tasks.outbox_tasks import send_due_task


@flow(name="dispatch_messages")
async def dispatch_messages(
    now: dt.datetime | None = None, limit: int | None = None
) -> dict[str, Any]:
    """Send what is due. Safe to re-run or run on several workers: rows are claimed first."""
    moment = now or dt.datetime.now(dt.UTC)
    counts = await send_due_task(moment, limit)
    get_run_logger().info("dispatch_messages at %s: %s", moment.isoformat(), counts)
    return counts
