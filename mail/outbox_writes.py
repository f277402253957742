"""Write the outbox inside the transaction that applies a plan: new rows, cancellations.

New rows whose idempotency key is already stored are skipped, so applying twice queues once;
only pending rows are ever cancelled or re-timed, so one a dispatcher claimed meanwhile goes
on its way.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mail.mime import make_message_id
from models.outbox import OUTBOX, MessageStatus

PENDING, CANCELLED = MessageStatus.PENDING, MessageStatus.CANCELLED
CHUNK = 500  # keys per IN (...) list, well under every database's parameter limit


@dataclass
class QueueReport:
    """What one apply put in, changed in, or took out of the outbox."""

    queued: Counter[str] = field(default_factory=Counter)  # by kind
    superseded: int = 0
    retimed: int = 0
    cancelled: int = 0


def mail_domain(address: str) -> str:
    """The domain of the sender's address, which Message-IDs are made under."""
    return address.rsplit("@", 1)[1]


def new_row(cohort_id: str, key: str, domain: str, now: dt.datetime) -> dict[str, Any]:
    """The columns every new outbox row starts with: due at `now`, pending, untried."""
    return {
        "cohort_id": cohort_id,
        "idempotency_key": key,
        "send_at": now,
        "status": PENDING.value,
        "attempts": 0,
        "message_id": make_message_id(key, domain),
        "created_at": now,
    }


def session_rows(
    connection: sa.Connection, session_keys: Iterable[str], condition: Any
) -> Iterator[Any]:
    keys = sorted(session_keys)
    for start in range(0, len(keys), CHUNK):
        yield from connection.execute(
            sa.select(OUTBOX).where(
                OUTBOX.c.subject_key.in_(keys[start : start + CHUNK]), condition
            )
        )


def cancel_pending(connection: sa.Connection, ids: Sequence[int], reason: str) -> None:
    for start in range(0, len(ids), CHUNK):
        # Only pending rows: one a dispatcher claimed meanwhile is left to it.
        connection.execute(
            sa.update(OUTBOX)
            .where(
                OUTBOX.c.id.in_(ids[start : start + CHUNK]),
                OUTBOX.c.status == PENDING.value,
            )
            .values(status=CANCELLED.value, last_error=reason)
        )


def insert_new(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert, skipping rows whose idempotency key is already stored (ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    name = connection.dialect.name
    if name == "sqlite":
        connection.execute(
            sqlite.insert(OUTBOX).on_conflict_do_nothing(index_elements=["idempotency_key"]), rows
        )
        return
    if name == "postgresql":
        connection.execute(
            postgresql.insert(OUTBOX).on_conflict_do_nothing(index_elements=["idempotency_key"]),
            rows,
        )
        return
    known = set()
    keys = [r["idempotency_key"] for r in rows]
    for start in range(0, len(keys), CHUNK):
        known |= set(
            connection.execute(
                sa.select(OUTBOX.c.idempotency_key).where(
                    OUTBOX.c.idempotency_key.in_(keys[start : start + CHUNK])
                )
            ).scalars()
        )
    fresh = [r for r in rows if r["idempotency_key"] not in known]
    if fresh:
        connection.execute(sa.insert(OUTBOX), fresh)
