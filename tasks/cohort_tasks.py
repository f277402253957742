"""Prefect tasks for a cohort: load and expand the files, reconcile with the database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from accel.database import create_schema, make_engine
from accel.inputs import LoadedInputs, load_inputs
from accel.operations import apply_cohort, override_sessions, plan_cohort
from accel.settings import Settings
from calendars.reconcile import Plan

# Results are not cached or persisted: the database is the state, and a retry must re-read it.


@task(cache_policy=NO_CACHE, persist_result=False)
def load_cohort_task(cohort_file: str) -> LoadedInputs:
    """Read, validate and expand; invalid files fail the task with every problem listed."""
    return load_inputs(Path(cohort_file))


@task(cache_policy=NO_CACHE, persist_result=False, retries=2, retry_delay_seconds=[5, 30])
def reconcile_task(inputs: LoadedInputs, now: dt.datetime, dry_run: bool) -> Plan:
    """Plan (dry run) or apply in one transaction; retried on a database hiccup, idempotent."""
    engine = make_engine(Settings().database_url.get_secret_value())
    try:
        create_schema(engine)
        if dry_run:
            return plan_cohort(engine, inputs, now=now)
        return apply_cohort(engine, inputs, now=now)
    finally:
        engine.dispose()


@task(cache_policy=NO_CACHE, persist_result=False, retries=2, retry_delay_seconds=[5, 30])
def override_task(
    inputs: LoadedInputs,
    now: dt.datetime,
    session: str,
    starts_at: dt.datetime | None,
    shift_minutes: int | None,
    cancel: bool,
    reason: str | None,
) -> Plan:
    """Store the move or cancellation and apply it with its updates, in one go (idempotent)."""
    engine = make_engine(Settings().database_url.get_secret_value())
    try:
        create_schema(engine)
        shift = dt.timedelta(minutes=shift_minutes) if shift_minutes is not None else None
        return override_sessions(
            engine,
            inputs,
            pattern=session,
            now=now,
            starts_at=starts_at,
            shift=shift,
            cancel=cancel,
            reason=reason,
        )
    finally:
        engine.dispose()
