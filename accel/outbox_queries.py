"""The outbox as the services see it: the dashboard's summary, a message's cohort, and the
notices a submission makes pointless (queueing and dispatch SQL stays in mail/)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, fields

import sqlalchemy as sa

from models.outbox import OUTBOX, MessageStatus

OUTBOX_WINDOW = dt.timedelta(days=7)
MESSAGES_LISTED = 100
FAILED_LISTED = 200


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    city_id: str | None
    email: str
    subject_key: str | None
    send_at: dt.datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class OutboxSummary:
    """Pending messages due in [start, end), counted by (city, kind); and the failed ones."""

    start: dt.datetime
    end: dt.datetime
    counts: Counter[tuple[str | None, str]]
    already_due: int  # pending with a send time before `start`: the next dispatch sends them
    upcoming: list[OutboxRow]  # the first MESSAGES_LISTED of the window
    failed: list[OutboxRow]  # the latest FAILED_LISTED
    failed_total: int


_ROW_COLUMNS = [OUTBOX.c[f.name] for f in fields(OutboxRow)]


def outbox_summary(connection: sa.Connection, *, cohort_id: str, now: dt.datetime) -> OutboxSummary:
    end = now + OUTBOX_WINDOW
    pending = (OUTBOX.c.cohort_id == cohort_id) & (OUTBOX.c.status == MessageStatus.PENDING.value)
    window = pending & (OUTBOX.c.send_at >= now) & (OUTBOX.c.send_at < end)
    counts: Counter[tuple[str | None, str]] = Counter()
    grouped = (
        sa.select(OUTBOX.c.city_id, OUTBOX.c.kind, sa.func.count())
        .where(window)
        .group_by(OUTBOX.c.city_id, OUTBOX.c.kind)
    )
    for city_id, kind, count in connection.execute(grouped):
        counts[(city_id, kind)] = count
    already_due = connection.execute(
        sa.select(sa.func.count()).select_from(OUTBOX).where(pending & (OUTBOX.c.send_at < now))
    ).scalar_one()
    upcoming = connection.execute(
        sa.select(*_ROW_COLUMNS)
        .where(window)
        .order_by(OUTBOX.c.send_at, OUTBOX.c.id)
        .limit(MESSAGES_LISTED)
    )
    is_failed = (OUTBOX.c.cohort_id == cohort_id) & (OUTBOX.c.status == MessageStatus.FAILED.value)
    failed = connection.execute(
        sa.select(*_ROW_COLUMNS)
        .where(is_failed)
        .order_by(OUTBOX.c.send_at.desc(), OUTBOX.c.id)
        .limit(FAILED_LISTED)
    )
    failed_total = connection.execute(
        sa.select(sa.func.count()).select_from(OUTBOX).where(is_failed)
    ).scalar_one()
    return OutboxSummary(
        start=now,
        end=end,
        counts=counts,
        already_due=already_due,
        upcoming=[OutboxRow(**r._mapping) for r in upcoming],
        failed=[OutboxRow(**r._mapping) for r in failed],
        failed_total=failed_total,
    )


def message_cohort(connection: sa.Connection, *, message_id: int) -> str | None:
    """The cohort of an outbox message, or None for an unknown id."""
    return connection.execute(
        sa.select(OUTBOX.c.cohort_id).where(OUTBOX.c.id == message_id)
    ).scalar_one_or_none()


def cancel_pending_notices(
    connection: sa.Connection, *, subject_key: str, kinds: Iterable[str]
) -> int:
    """Cancel the pending messages of these kinds about `subject_key`; how many were."""
    cancelled = connection.execute(
        sa.update(OUTBOX)
        .where(
            (OUTBOX.c.subject_key == subject_key)
            & (OUTBOX.c.status == MessageStatus.PENDING.value)
            & OUTBOX.c.kind.in_(kinds)
        )
        .values(status=MessageStatus.CANCELLED.value)
    )
    return cancelled.rowcount
