"""The cohort operations behind `accel plan` and `accel apply`."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from accel.inputs import LoadedInputs
from accel.store import apply_plan, load_state
from calendars.reconcile import Plan, reconcile


def _lock_cohort(connection: sa.Connection, cohort_id: str) -> None:
    """Serialize applies of one cohort. PostgreSQL: an advisory lock held until commit.

    SQLite allows one writer at a time: a second apply whose snapshot went stale fails with
    "database is locked" and rolls back, so it can never write a plan made from old state.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                           {"key": f"accel-apply:{cohort_id}"})


def plan_cohort(engine: sa.Engine, inputs: LoadedInputs, *, now: dt.datetime) -> Plan:
    """What `apply` would change, without writing anything."""
    with engine.connect() as connection:
        state = load_state(connection, cohort_id=inputs.cohort.id)
    return reconcile(inputs.timeline, state, now)


def apply_cohort(engine: sa.Engine, inputs: LoadedInputs, *, now: dt.datetime) -> Plan:
    """Reconcile and write in one transaction: all of the plan, or nothing."""
    with engine.begin() as connection:
        _lock_cohort(connection, inputs.cohort.id)
        state = load_state(connection, cohort_id=inputs.cohort.id)
        plan = reconcile(inputs.timeline, state, now)
        if not plan.is_empty:
            apply_plan(connection, timeline=inputs.timeline, plan=plan)
    return plan
