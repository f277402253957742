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
from models.problems import InvalidInputError
from tasks.operations import apply_cohort, override_sessions, plan_cohort
from tasks.run_settings import run_settings

# Results are not cached or persisted: the database is the state, and a retry must re-read it.
RETRY_DELAYS: list[float] = [5, 30]


def retry_unless_invalid_input(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Retry database hiccups, never invalid files: the same files would fail the same way."""
    return not isinstance(state.data, InvalidInputError)


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
# none for invalid files.
database_task = task(
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=retry_unless_invalid_input,
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
) -> Plan:
    """Store the move or cancellation and apply it with its updates, in one go (idempotent)."""
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
