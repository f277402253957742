"""Prefect tasks for a cohort: read and expand the files, reconcile with the database.

Tasks take the cohort file's path and read it themselves. Passing the loaded inputs (tens of
thousands of sessions at 1,000 cities) between tasks made Prefect walk the whole object graph
twice per task call, looking for futures in the arguments: that alone more than doubled the
time of `sync_cohort` at 1,000 cities (see bench/bench_flows.py). A path costs nothing to pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from accel.database import create_schema, make_engine
from accel.inputs import load_inputs
from accel.settings import Settings
from calendars.reconcile import Plan
from calendars.timeline_types import LoadedInputs
from tasks.operations import apply_cohort, override_sessions, plan_cohort
from tasks.run_settings import run_settings
from tasks.session_changes import SessionChangeResult

# Results are not cached or persisted: the database is the state, and a retry must re-read it.
RETRY_DELAYS: list[float] = [5, 30]


# What a retry can get past: the database unreachable, locked, restarted or serializing us
# away (psycopg's serialization and deadlock errors are OperationalErrors), a network timeout.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.DisconnectionError,
    sa.exc.TimeoutError,
    ConnectionError,
    TimeoutError,
)


def retry_only_transient(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Retry database and network hiccups only. Invalid files, an unknown session pattern, a
    move into the past and programming errors fail the same way every time: never retried."""
    return isinstance(state.data, TRANSIENT_ERRORS)


def read_cohort(cohort_file: str) -> LoadedInputs:
    """Read, validate and expand; invalid files raise `InvalidInputError` with every problem."""
    return load_inputs(Path(cohort_file))


@contextmanager
def app_database(settings: Settings) -> Iterator[sa.Engine]:
    """The configured database at the newest schema, for one task run; disposed after it."""
    engine = make_engine(settings.database_url.get_secret_value())
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()


# The tasks that read the files and write the database: two retries for database hiccups,
# none for what cannot pass (see `retry_only_transient`).
database_task = task(
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_only_transient,
)


@database_task
def reconcile_task(cohort_file: str, now: dt.datetime, dry_run: bool) -> Plan:
    """Read the files, then plan (dry run) or apply in one transaction; idempotent."""
    inputs = read_cohort(cohort_file)
    with app_database(run_settings()) as engine:
        if dry_run:
            return plan_cohort(engine, inputs, now=now)
        return apply_cohort(engine, inputs, now=now)


@database_task
def override_task(
    cohort_file: str,
    now: dt.datetime,
    session: str,
    starts_at: dt.datetime | None,
    shift_minutes: int | None,
    cancel: bool,
    reason: str | None,
) -> SessionChangeResult:
    """Store the move or cancellation and apply it with its updates, in one transaction
    (idempotent: a shift counts from the files' start)."""
    inputs = read_cohort(cohort_file)
    shift = dt.timedelta(minutes=shift_minutes) if shift_minutes is not None else None
    with app_database(run_settings()) as engine:
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
