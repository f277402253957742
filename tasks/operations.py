"""The cohort operations behind `accel plan` and `accel apply`: services and mail in one transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from accel.people_queries import save_cities
from accel.session_overrides import (
    NoSuchSessionError,
    RefusedMoveError,
    SessionChangeError,
    check_new_start,
    delete_overrides,
    load_overrides,
    matching_sessions,
    overridden_sessions,
    save_overrides,
    stored_starts,
)
from accel.store import apply_plan, load_state
from calendars.overrides import apply_overrides
from calendars.reconcile import Plan, StoredState, reconcile
from calendars.timeline_types import LoadedInputs
from mail.queue import queue_plan_messages
from tasks.session_changes import OutboxChanges, SessionChangeResult, outbox_rows, session_moves


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
        return _reconcile_in(connection, inputs, now=now)[2]


def _reconcile_in(
    connection: sa.Connection, files: LoadedInputs, *, now: dt.datetime
) -> tuple[LoadedInputs, StoredState, Plan]:
    """The files with the stored overrides laid over them, the stored state, and the plan."""
    inputs = with_overrides(connection, files)
    state = load_state(connection, cohort_id=inputs.cohort.id)
    return inputs, state, reconcile(inputs.timeline, state, now)


def _write_plan(
    connection: sa.Connection, inputs: LoadedInputs, plan: Plan, *, now: dt.datetime
) -> None:
    """Write a plan and queue its emails; the caller owns the transaction."""
    save_cities(connection, cohort=inputs.cohort, now=now)
    if not plan.is_empty:
        apply_plan(connection, timeline=inputs.timeline, plan=plan)
        # Same transaction: the outbox holds exactly the emails of what was committed.
        queue_plan_messages(connection, inputs=inputs, plan=plan, now=now)


def apply_cohort(engine: sa.Engine, inputs: LoadedInputs, *, now: dt.datetime) -> Plan:
    """Reconcile and write in one transaction: all of the plan, or nothing."""
    with engine.begin() as connection:
        _lock_cohort(connection, inputs.cohort.id)
        applied, _, plan = _reconcile_in(connection, inputs, now=now)
        _write_plan(connection, applied, plan, now=now)
    return plan


@contextmanager
def _transaction(engine: sa.Engine, *, commit: bool) -> Iterator[sa.Connection]:
    """One transaction, committed if `commit` (and the block raised nothing), else rolled back:
    a dry run does every write the real change would, and keeps none of them."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        except BaseException:
            transaction.rollback()
            raise
        if commit:
            transaction.commit()
        else:
            transaction.rollback()


def _change_and_apply(
    connection: sa.Connection,
    files: LoadedInputs,
    *,
    operation: str,
    targets: list[str],
    now: dt.datetime,
    dry_run: bool,
) -> SessionChangeResult:
    """Apply the cohort with the overrides just written (or removed), in the caller's
    transaction, and describe what changed: the sessions, and the outbox rows about them."""
    inputs, state, plan = _reconcile_in(connection, files, now=now)
    stuck = sorted(set(targets) & set(plan.past_unchanged))
    if stuck:  # reconcile leaves started sessions alone: the override would lie about them
        raise RefusedMoveError(f"{stuck[0]}: it would start before now ({_utc(now)})")
    keys = [c.key for c in plan.sessions]
    before = outbox_rows(connection, keys)
    _write_plan(connection, inputs, plan, now=now)
    wanted = {s.key: s for s in inputs.timeline.sessions}
    return SessionChangeResult(
        cohort_id=files.cohort.id,
        operation=operation,
        now=now,
        dry_run=dry_run,
        plan=plan,
        sessions=session_moves(
            plan,
            stored=state.sessions,
            files={s.key: s for s in files.timeline.sessions},
            wanted=wanted,
            targets=targets,
        ),
        messages=OutboxChanges.between(before, outbox_rows(connection, keys)),
        already_started=[],
    )


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
    dry_run: bool = False,
) -> SessionChangeResult:
    """Move (to `starts_at`, or by `shift` from the files' start) or cancel the sessions
    matching `pattern`, and apply, in one transaction: the override with its updates,
    cancellations and re-timed reminders, or nothing. A dry run rolls it all back.

    A shift counts from the files' start, so the same request run twice (a retry) moves once.
    Raises `SessionChangeError` for what can never succeed: an unknown pattern, sessions that
    have started, a move into the past or outside the dates the files may name.
    """
    if not cancel and (starts_at is None) == (shift is None):
        raise SessionChangeError("give exactly one of a new start or a shift")
    files = {s.key: s for s in inputs.timeline.sessions}
    with _transaction(engine, commit=not dry_run) as connection:
        _lock_cohort(connection, inputs.cohort.id)
        current = stored_starts(connection, cohort_id=inputs.cohort.id)
        keys = matching_sessions(inputs, pattern, now, current)
        new_starts: dict[str, dt.datetime | None] = {}
        for key in keys:
            session = files[key]
            start = None if cancel else (starts_at or session.starts_at + (shift or dt.timedelta()))
            if start is not None:
                check_new_start(key, start, session.ends_at - session.starts_at, now)
            new_starts[key] = start
        save_overrides(
            connection, cohort_id=inputs.cohort.id, new_starts=new_starts, now=now, reason=reason
        )
        result = _change_and_apply(
            connection,
            inputs,
            operation="cancel" if cancel else "move",
            targets=keys,
            now=now,
            dry_run=dry_run,
        )
    result.already_started = _started(inputs, pattern, keys)
    return result


def restore_sessions(
    engine: sa.Engine,
    inputs: LoadedInputs,
    *,
    pattern: str,
    now: dt.datetime,
    dry_run: bool = False,
) -> SessionChangeResult:
    """Remove the operators' moves and cancellations of the sessions matching `pattern` and
    apply, in one transaction: each goes back to what the files say, its attendees told.

    Sessions that have started are left as they are; refused (`SessionChangeError`) when
    nothing else matches, or when the files' time has passed (a move into the past).
    """
    files = {s.key: s for s in inputs.timeline.sessions}
    with _transaction(engine, commit=not dry_run) as connection:
        _lock_cohort(connection, inputs.cohort.id)
        matched = overridden_sessions(connection, cohort_id=inputs.cohort.id, pattern=pattern)
        current = stored_starts(connection, cohort_id=inputs.cohort.id)
        keys = [k for k in matched if k not in current or current[k] > now]
        if not keys:
            raise NoSuchSessionError(
                f"every session matching {pattern!r} has already started at {_utc(now)}"
            )
        for key in keys:
            if key in files and files[key].starts_at <= now:
                raise RefusedMoveError(
                    f"{key}: the files' start {_utc(files[key].starts_at)} is not after now "
                    f"({_utc(now)}): restoring would move it into the past"
                )
        delete_overrides(connection, session_keys=keys)
        result = _change_and_apply(
            connection, inputs, operation="restore", targets=keys, now=now, dry_run=dry_run
        )
    result.already_started = sorted(set(matched) - set(keys))
    return result


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _started(inputs: LoadedInputs, pattern: str, chosen: list[str]) -> list[str]:
    """Sessions matching `pattern` left out because they had started."""
    left = {s.key for s in inputs.timeline.sessions if fnmatch.fnmatchcase(s.key, pattern)}
    return sorted(left - set(chosen))
