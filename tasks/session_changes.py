"""What moving, cancelling or restoring sessions did (or, in a dry run, would do): the sessions
with their old and new starts, and the outbox rows queued, re-timed or cancelled, per kind."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from calendars.reconcile import Action, Plan, StoredSession
from calendars.slots import to_local
from calendars.timeline_types import TimelineSession
from models.enums import RecordStatus
from models.outbox import OUTBOX, MessageStatus

CHUNK = 500  # keys per IN (...) list, well under every database's parameter limit
PENDING = MessageStatus.PENDING.value
CANCELLED = MessageStatus.CANCELLED.value


@dataclass(frozen=True)
class OutboxRow:
    kind: str
    email: str
    status: str
    send_at: dt.datetime


def outbox_rows(connection: sa.Connection, session_keys: Iterable[str]) -> dict[int, OutboxRow]:
    """The outbox rows about these sessions, by id: read before and after a change to compare."""
    keys = sorted(set(session_keys))
    rows: dict[int, OutboxRow] = {}
    for start in range(0, len(keys), CHUNK):
        query = sa.select(
            OUTBOX.c.id, OUTBOX.c.kind, OUTBOX.c.email, OUTBOX.c.status, OUTBOX.c.send_at
        ).where(OUTBOX.c.subject_key.in_(keys[start : start + CHUNK]))
        for row in connection.execute(query):
            rows[row.id] = OutboxRow(row.kind, row.email, row.status, row.send_at)
    return rows


@dataclass
class MessageTally:
    """Per kind: how many messages, to how many distinct people."""

    messages: dict[str, int] = field(default_factory=dict)
    people: dict[str, set[str]] = field(default_factory=dict)

    def add(self, row: OutboxRow) -> None:
        self.messages[row.kind] = self.messages.get(row.kind, 0) + 1
        self.people.setdefault(row.kind, set()).add(row.email)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            kind: {"messages": n, "recipients": len(self.people[kind])}
            for kind, n in sorted(self.messages.items())
        }


@dataclass
class OutboxChanges:
    """The outbox rows a change queued (new or revived), re-timed (pending, at a new time) or
    cancelled (pending, now never sent)."""

    queued: MessageTally = field(default_factory=MessageTally)
    retimed: MessageTally = field(default_factory=MessageTally)
    cancelled: MessageTally = field(default_factory=MessageTally)

    @classmethod
    def between(
        cls, before: Mapping[int, OutboxRow], after: Mapping[int, OutboxRow]
    ) -> OutboxChanges:
        changes = cls()
        for id_, row in after.items():
            old = before.get(id_)
            if row.status == PENDING and (old is None or old.status == CANCELLED):
                changes.queued.add(row)  # new, or revived (a restored session's reminders)
            elif old is None:
                continue
            elif old.status == PENDING and row.status == CANCELLED:
                changes.cancelled.add(row)
            elif old.status == PENDING and row.send_at != old.send_at:
                changes.retimed.add(row)
        return changes

    def as_dict(self) -> dict[str, dict[str, dict[str, int]]]:
        return {
            "queued": self.queued.as_dict(),
            "retimed": self.retimed.as_dict(),
            "cancelled": self.cancelled.as_dict(),
        }


@dataclass(frozen=True)
class SessionMove:
    """One session the change touched: where it was stored to start and where it goes now."""

    key: str
    action: str  # a reconcile action: changed, cancelled, restored, added
    city_id: str | None
    timezone: str
    old_starts_at: dt.datetime | None  # None: not stored before
    old_cancelled: bool  # stored as cancelled (a restore brings it back)
    new_starts_at: dt.datetime | None  # None: cancelled
    targeted: bool  # named by the pattern (else a change in the files applied with it)


@dataclass
class SessionChangeResult:
    """A move, cancellation or restore as committed, or as a dry run would have committed it."""

    cohort_id: str
    operation: str  # move, cancel, restore
    now: dt.datetime
    dry_run: bool
    plan: Plan
    sessions: list[SessionMove]
    messages: OutboxChanges
    already_started: list[str]  # matched the pattern but had started: left as they are

    def as_dict(self) -> dict[str, Any]:
        return {
            "cohort": self.cohort_id,
            "operation": self.operation,
            "dry_run": self.dry_run,
            "now": _iso(self.now),
            "sessions": [
                {
                    "key": s.key,
                    "action": s.action,
                    "city": s.city_id,
                    "timezone": s.timezone,
                    "old_start": _iso(s.old_starts_at),
                    "old_local": _local(s.old_starts_at, s.timezone),
                    "old_cancelled": s.old_cancelled,
                    "new_start": _iso(s.new_starts_at),
                    "new_local": _local(s.new_starts_at, s.timezone),
                    "targeted": s.targeted,
                }
                for s in self.sessions
            ],
            "messages": self.messages.as_dict(),
            "already_started": self.already_started,
        }


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _local(moment: dt.datetime | None, zone: str) -> str | None:
    return None if moment is None else to_local(moment, zone).isoformat()


def session_moves(
    plan: Plan,
    *,
    stored: Mapping[str, StoredSession],
    files: Mapping[str, TimelineSession],
    wanted: Mapping[str, TimelineSession],
    targets: Iterable[str],
) -> list[SessionMove]:
    """The plan's session changes, each with its stored start and the start it gets."""
    chosen = set(targets)
    moves = []
    for change in plan.sessions:
        old = stored.get(change.key)
        session = wanted.get(change.key) or files.get(change.key)
        moves.append(
            SessionMove(
                key=change.key,
                action=str(change.action),
                city_id=change.city_id,
                timezone=session.timezone if session else "UTC",
                old_starts_at=old.starts_at if old else None,
                old_cancelled=old is not None and old.status == RecordStatus.CANCELLED,
                new_starts_at=None if change.action is Action.CANCELLED else change.starts_at,
                targeted=change.key in chosen,
            )
        )
    return moves
