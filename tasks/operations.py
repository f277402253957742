"""The cohort operations behind `accel plan` and `accel apply`: services and mail in one transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa

from accel.people_queries import save_cities
from accel.session_overrides import load_overrides, matching_sessions, save_overrides
from accel.store import apply_plan, load_state
from calendars.overrides import apply_overrides
from calendars.reconcile import Plan, reconcile
from calendars.timeline_types import LoadedInputs
from mail.queue import queue_plan_messages


def _lock_cohort(connection: sa.Connection, cohort_id: str) -> None:
    """Serialize applies of one cohort. PostgreSQL: an advisory lock held until commit.

    SQLite allows one writer at a time: a second apply whose snapshot went stale fails with
    "database is locked" and rolls back, so it can never write a plan made from old state.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"accel-apply:{cohort_id}"},
        )


def with_overrides(connection: sa.Connection, inputs: LoadedInputs) -> LoadedInputs:
    """The files' timeline with the operators' stored moves and cancellations laid over it."""
    overrides = load_overrides(connection, cohort_id=inputs.cohort.id)
    if not overrides:
        return inputs
    return dataclasses.replace(inputs, timeline=apply_overrides(inputs.timeline, overrides))


def plan_cohort(engine: sa.Engine, inputs: LoadedInputs, *, now: dt.datetime) -> Plan:
    """What `apply` would change, without writing anything."""
    with engine.connect() as connection:
        inputs = with_overrides(connection, inputs)
        state = load_state(connection, cohort_id=inputs.cohort.id)
    return reconcile(inputs.timeline, state, now)


def apply_cohort(engine: sa.Engine, inputs: LoadedInputs, *, now: dt.datetime) -> Plan:
    """Reconcile and write in one transaction: all of the plan, or nothing."""
    with engine.begin() as connection:
        _lock_cohort(connection, inputs.cohort.id)
        inputs = with_overrides(connection, inputs)
        state = load_state(connection, cohort_id=inputs.cohort.id)
        plan = reconcile(inputs.timeline, state, now)
        save_cities(connection, cohort=inputs.cohort, now=now)
        if not plan.is_empty:
            apply_plan(connection, timeline=inputs.timeline, plan=plan)
            # Same transaction: the outbox holds exactly the emails of what was committed.
            queue_plan_messages(connection, inputs=inputs, plan=plan, now=now)
    return plan


def override_sessions(
    engine: sa.Engine,
    inputs: LoadedInputs,
    *,
    pattern: str,
    now: dt.datetime,
    starts_at: dt.datetime | None = None,
    shift: dt.timedelta | None = None,
    cancel: bool = False,
    reason: str | None = None,
) -> Plan:
    """Move (to `starts_at` or by `shift`) or cancel the sessions matching `pattern`, and apply.

    The override and the resulting updates or cancellations commit together.
    """
    keys = matching_sessions(inputs, pattern, now)
    original = {s.key: s.starts_at for s in inputs.timeline.sessions}
    with engine.begin() as connection:
        _lock_cohort(connection, inputs.cohort.id)
        save_overrides(
            connection,
            cohort_id=inputs.cohort.id,
            session_keys=keys,
            now=now,
            starts_at=starts_at,
            shift=shift,
            cancelled=cancel,
            reason=reason,
            original_starts=original,
        )
    return apply_cohort(engine, inputs, now=now)
