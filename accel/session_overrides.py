"""Operators move or cancel sessions: overrides stored in the database, laid over the files."""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from calendars.overrides import SessionOverride
from calendars.timeline_types import LoadedInputs
from models.file_types import FIRST_DAY, LAST_DAY
from models.tables import OVERRIDE, SESSION

# The instants a session may be moved to: the days the files may name (models/file_types.py),
# far enough for any program and near enough that reminders, leads and feeds never overflow.
EARLIEST = dt.datetime.combine(FIRST_DAY, dt.time(0), tzinfo=dt.UTC)
LATEST = dt.datetime.combine(LAST_DAY, dt.time(23, 59), tzinfo=dt.UTC)


class SessionChangeError(ValueError):
    """A move, cancellation or restore that can never succeed as asked: retrying is useless."""


class NoSuchSessionError(SessionChangeError, LookupError):
    """The pattern matches no session of the cohort (or only sessions already started)."""


class RefusedMoveError(SessionChangeError):
    """A move into the past, or beyond the instants the files may name."""


class StoredOverrideError(SessionChangeError):
    """A stored move outside the bounds (written before they were checked): never laid over."""


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def load_overrides(connection: sa.Connection, *, cohort_id: str) -> list[SessionOverride]:
    """The cohort's moves and cancellations; a move outside the bounds raises
    `StoredOverrideError` naming the command that removes it."""
    rows = connection.execute(sa.select(OVERRIDE).where(OVERRIDE.c.cohort_id == cohort_id))
    overrides = [SessionOverride(r.session_key, r.starts_at, r.cancelled) for r in rows]
    for override in overrides:
        start = override.starts_at
        if start is not None and not EARLIEST <= start <= LATEST:
            raise StoredOverrideError(
                f"{override.session_key}: an operator's move to {_utc(start)} is stored, outside "
                f"the dates a program may use ({FIRST_DAY} to {LAST_DAY}); "
                f"`accel session restore {override.session_key}` removes it"
            )
    return overrides


def stored_starts(connection: sa.Connection, *, cohort_id: str) -> dict[str, dt.datetime]:
    """When each stored session of the cohort starts (an operator's move included)."""
    query = sa.select(SESSION.c.key, SESSION.c.starts_at).where(SESSION.c.cohort_id == cohort_id)
    return {row.key: row.starts_at for row in connection.execute(query)}


def matching_sessions(
    inputs: LoadedInputs,
    pattern: str,
    now: dt.datetime,
    current_starts: Mapping[str, dt.datetime] | None = None,
) -> list[str]:
    """Session keys matching `pattern` (a key, or a glob such as `cda-2024/coaching/*/05`)
    that have not started at `now`.

    A session starts when it is stored to start (`current_starts`, an operator's earlier move
    included), else when the files say.
    """
    keys = [s.key for s in inputs.timeline.sessions if fnmatch.fnmatchcase(s.key, pattern)]
    if not keys:
        raise NoSuchSessionError(f"no session of {inputs.cohort.id} matches {pattern!r}")
    starts = {s.key: s.starts_at for s in inputs.timeline.sessions} | dict(current_starts or {})
    future = [k for k in keys if starts[k] > now]
    if not future:
        raise NoSuchSessionError(
            f"every session matching {pattern!r} has already started at {_utc(now)}"
        )
    return future


def check_new_start(
    key: str, starts_at: dt.datetime, length: dt.timedelta, now: dt.datetime
) -> None:
    """Refuse a move of `key` into the past or outside the instants the files may name."""
    if starts_at <= now:
        raise RefusedMoveError(
            f"{key}: the new start {_utc(starts_at)} is not after now ({_utc(now)}): "
            "a session cannot be moved into the past"
        )
    if starts_at < EARLIEST or starts_at > LATEST - length:  # no sum that could overflow
        raise RefusedMoveError(
            f"{key}: the new start {_utc(starts_at)} is outside the dates a program may use "
            f"({FIRST_DAY} to {LAST_DAY})"
        )


def overridden_sessions(connection: sa.Connection, *, cohort_id: str, pattern: str) -> list[str]:
    """The keys of the cohort's stored overrides that match `pattern`."""
    keys = connection.execute(
        sa.select(OVERRIDE.c.session_key).where(OVERRIDE.c.cohort_id == cohort_id)
    ).scalars()
    found = sorted(k for k in keys if fnmatch.fnmatchcase(k, pattern))
    if not found:
        raise NoSuchSessionError(
            f"no operator's move or cancellation of {cohort_id} matches {pattern!r}"
        )
    return found


def delete_overrides(connection: sa.Connection, *, session_keys: list[str]) -> None:
    """Forget the operators' moves and cancellations of these sessions: the files rule again."""
    connection.execute(sa.delete(OVERRIDE).where(OVERRIDE.c.session_key.in_(session_keys)))


def save_overrides(
    connection: sa.Connection,
    *,
    cohort_id: str,
    new_starts: Mapping[str, dt.datetime | None],
    now: dt.datetime,
    reason: str | None = None,
) -> None:
    """Record a move (a key's new start) or a cancellation (a key mapped to None)."""
    rows = [
        {
            "session_key": key,
            "cohort_id": cohort_id,
            "starts_at": start,
            "cancelled": start is None,
            "reason": reason,
            "changed_at": now,
        }
        for key, start in new_starts.items()
    ]
    insert = (
        postgresql.insert(OVERRIDE)
        if connection.dialect.name == "postgresql"
        else sqlite.insert(OVERRIDE)
    )
    statement = insert.on_conflict_do_update(
        index_elements=["session_key"],
        set_={
            name: insert.excluded[name]
            for name in ("starts_at", "cancelled", "reason", "changed_at")
        },
    )
    connection.execute(statement, rows)
