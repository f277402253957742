"""Prefect tasks that touch the outbox: queue due notices, send due messages (network: retried).

Like the cohort tasks, they take the cohort file's path, never the loaded inputs (see there).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from mail.notices import check_deliverables, notify_decision_points
from tasks.cohort_tasks import app_database, database_task, read_cohort
from tasks.dispatch_pass import dispatch_due
from tasks.run_settings import run_settings


@database_task
def check_deliverables_task(cohort_file: str, now: dt.datetime) -> dict[str, int]:
    """Queue every city's due deliverable notices in one transaction (idempotent keys)."""
    inputs = read_cohort(cohort_file)
    with app_database(run_settings()) as engine, engine.begin() as connection:
        return dict(check_deliverables(connection, inputs=inputs, now=now))


@database_task
def notify_decision_points_task(cohort_file: str, now: dt.datetime) -> dict[str, int]:
    """Queue the mayors' decision-point emails whose moment has come (each once)."""
    inputs = read_cohort(cohort_file)
    with app_database(run_settings()) as engine, engine.begin() as connection:
        return dict(notify_decision_points(connection, inputs=inputs, now=now))


@task(
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=10),
    retry_jitter_factor=0.5,
)
async def send_due_task(
    now: dt.datetime, limit: int | None = None, cancel_stale: bool = False
) -> dict[str, Any]:
    """One batch of sends. A retry is safe: the outbox claims each row before sending it.

    The counts by outcome, the failed ids, and `held`: None, or why the pass stopped before
    changing anything (too many messages to cancel as already started, unless `cancel_stale`).
    """
    settings = run_settings()
    with app_database(settings) as engine:
        report = await dispatch_due(
            settings, engine, now=now, limit=limit, cancel_stale=cancel_stale
        )
    counts: Counter[str] = Counter(
        sent=report.sent,
        failed=report.failed,
        retried=report.retried,
        cancelled=report.cancelled,
        deferred=report.deferred,
        reclaimed=report.reclaimed,
    )
    held = None
    if report.held is not None:
        held = report.held.describe(override="cancel_stale=True", now_hint="now=")
    return {**counts, "failed_ids": sorted(report.failed_ids), "held": held}
