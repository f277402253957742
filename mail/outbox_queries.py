"""What operators ask of the outbox: counts by kind or city, lists, a failed message sent again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from models.outbox import OUTBOX, MessageStatus

PENDING, FAILED = MessageStatus.PENDING, MessageStatus.FAILED


def outbox_counts(connection: sa.Connection, *, by: str) -> dict[tuple[str, str], int]:
    """`{(kind or city, status): messages}`; `by` is "kind" or "city_id"."""
    column = OUTBOX.c[by]
    query = sa.select(column, OUTBOX.c.status, sa.func.count()).group_by(column, OUTBOX.c.status)
    return {(value or "(cohort)", status): n for value, status, n in connection.execute(query)}


def retry_failed(connection: sa.Connection, *, message: int, now: dt.datetime) -> str | None:
    """Put a failed message back in the queue, due at `now`; None, or why it cannot be."""
    status = connection.execute(
        sa.select(OUTBOX.c.status).where(OUTBOX.c.id == message)
    ).scalar_one_or_none()
    if status is None:
        return f"no message {message} in the outbox"
    if status != FAILED.value:
        return f"message {message} is {status}, not failed"
    connection.execute(
        sa.update(OUTBOX)
        .where(OUTBOX.c.id == message, OUTBOX.c.status == FAILED.value)
        .values(
            status=PENDING.value,
            last_error=None,
            attempts=0,
            send_at=now,
            claimed_by=None,
            claimed_at=None,
        )
    )
    return None


def outbox_messages(
    connection: sa.Connection,
    *,
    status: str,
    kind: str | None = None,
    city: str | None = None,
    limit: int,
) -> tuple[Sequence[Any], int]:
    """The first `limit` messages in `status` (of `kind`, for `city`) by send_at and id, and
    how many match in all."""
    where = [OUTBOX.c.status == status]
    if kind is not None:
        where.append(OUTBOX.c.kind == kind)
    if city is not None:
        where.append(OUTBOX.c.city_id == city)
    columns = ("id", "kind", "city_id", "email", "send_at", "attempts", "last_error")
    query = (
        sa.select(*(OUTBOX.c[c] for c in columns))
        .where(*where)
        .order_by(OUTBOX.c.send_at, OUTBOX.c.id)
    )
    rows = connection.execute(query.limit(limit)).all()
    total = connection.execute(
        sa.select(sa.func.count()).select_from(OUTBOX).where(*where)
    ).scalar_one()
    return rows, total
