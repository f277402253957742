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

from accel.database import create_schema, make_engine
from accel.dispatcher import send_due_messages
from accel.notices import check_deliverables, notify_decision_points
from accel.senders import make_sender
from accel.settings import Settings
from tasks.cohort_tasks import RETRY_DELAYS, read_cohort, retry_unless_invalid_input


def _engine() -> Any:
    engine = make_engine(Settings().database_url.get_secret_value())
    create_schema(engine)
    return engine


@task(
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_unless_invalid_input,
)
def check_deliverables_task(cohort_file: str, now: dt.datetime) -> dict[str, int]:
    """Queue every city's due deliverable notices in one transaction (idempotent keys)."""
    inputs = read_cohort(cohort_file)
    engine = _engine()
    try:
        with engine.begin() as connection:
            return dict(check_deliverables(connection, inputs=inputs, now=now))
    finally:
        engine.dispose()


@task(
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_unless_invalid_input,
)
def notify_decision_points_task(cohort_file: str, now: dt.datetime) -> dict[str, int]:
    """Queue the mayors' decision-point emails whose moment has come (each once)."""
    inputs = read_cohort(cohort_file)
    engine = _engine()
    try:
        with engine.begin() as connection:
            return dict(notify_decision_points(connection, inputs=inputs, now=now))
    finally:
        engine.dispose()


@task(
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=10),
    retry_jitter_factor=0.5,
)
async def send_due_task(now: dt.datetime, limit: int | None = None) -> dict[str, Any]:
    """One batch of sends. A retry is safe: the outbox claims each row before sending it."""
    settings = Settings()
    engine = _engine()
    sender = make_sender(settings)
    try:
        report = await send_due_messages(
            engine, now=now, sender=sender, settings=settings, limit=limit
        )
    finally:
        await sender.aclose()
        engine.dispose()
    counts: Counter[str] = Counter(
        sent=report.sent,
        failed=report.failed,
        retried=report.retried,
        cancelled=report.cancelled,
        deferred=report.deferred,
        reclaimed=report.reclaimed,
    )
    return dict(counts)
