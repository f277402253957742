"""Operators move or cancel sessions: overrides stored in the database, laid over the files."""

from __future__ import annotations

import datetime as dt
import fnmatch

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from calendars.overrides import SessionOverride
from calendars.timeline_types import LoadedInputs
from models.tables import OVERRIDE


class NoSuchSessionError(LookupError):
    """The pattern matches no session of the cohort (or only sessions already started)."""


def load_overrides(connection: sa.Connection, *, cohort_id: str) -> list[SessionOverride]:
    rows = connection.execute(sa.select(OVERRIDE).where(OVERRIDE.c.cohort_id == cohort_id))
    return [SessionOverride(r.session_key, r.starts_at, r.cancelled) for r in rows]


def matching_sessions(inputs: LoadedInputs, pattern: str, now: dt.datetime) -> list[str]:
    """Session keys matching `pattern` (a key, or a glob such as `cda-2024/coaching/*/05`)
    that have not started at `now`."""
    keys = [s.key for s in inputs.timeline.sessions if fnmatch.fnmatchcase(s.key, pattern)]
    if not keys:
        raise NoSuchSessionError(f"no session matches {pattern!r}")
    starts = {s.key: s.starts_at for s in inputs.timeline.sessions}
    future = [k for k in keys if starts[k] > now]
    if not future:
        raise NoSuchSessionError(f"every session matching {pattern!r} has already started")
    return future


def save_overrides(
    connection: sa.Connection,
    *,
    cohort_id: str,
    session_keys: list[str],
    now: dt.datetime,
    starts_at: dt.datetime | None = None,
    shift: dt.timedelta | None = None,
    cancelled: bool = False,
    reason: str | None = None,
    original_starts: dict[str, dt.datetime] | None = None,
) -> None:
    """Record a move (to `starts_at`, or by `shift` from each session's start) or cancellation."""
    rows = []
    for key in session_keys:
        start = starts_at
        if shift is not None and original_starts is not None:
            start = original_starts[key] + shift
        rows.append(
            {
                "session_key": key,
                "cohort_id": cohort_id,
                "starts_at": None if cancelled else start,
                "cancelled": cancelled,
                "reason": reason,
                "changed_at": now,
            }
        )
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
