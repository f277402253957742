"""Take the due rows of the outbox for one dispatcher, and write back what became of them.

Claiming. PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`, then `status='sending'` in the same
transaction, so concurrent dispatchers take disjoint rows. SQLite: the candidates are read,
then one `UPDATE … SET status='sending', claimed_by=:batch WHERE id IN (…) AND <still due>`
takes them, and only the rows that update changed (found by the batch's unique `claimed_by`)
are sent; if another dispatcher took them all in between, the candidates are read again (a
dispatcher that loses that race does not end its pass). A row left in `sending` longer than
the lease (its claim is dated `now` plus the time the claiming pass had run) belonged to a
dispatcher that died; it is claimed again.

Recording. A result only lands while the claim is its own. `RecordingThread` commits a group
of results in one transaction on a thread and a connection of its own for the pass; the
`sent` results of a group are written by one statement (executemany).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models.outbox import OUTBOX, MessageStatus

PENDING, SENDING, SENT = MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.SENT


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row: the status it is to have, and why."""

    id: int
    token: str  # the claim it was sent under
    status: MessageStatus
    at: dt.datetime
    reply: str | None = None
    subject: str | None = None
    attempted: bool = True
    retry_at: dt.datetime | None = None


def claim_due(
    engine: sa.Engine,
    *,
    now: dt.datetime,
    at: dt.datetime,
    token: str,
    limit: int,
    lease: dt.timedelta,
) -> tuple[Sequence[Any], int]:
    """Take up to `limit` due rows for the claim `token`; the rows and how many were reclaimed."""
    due = sa.or_(
        sa.and_(OUTBOX.c.status == PENDING.value, OUTBOX.c.send_at <= now),
        sa.and_(OUTBOX.c.status == SENDING.value, OUTBOX.c.claimed_at <= now - lease),
    )
    candidates = sa.select(OUTBOX.c.id, OUTBOX.c.status).where(due)
    candidates = candidates.order_by(OUTBOX.c.send_at, OUTBOX.c.id).limit(limit)
    take = {"status": SENDING.value, "claimed_by": token, "claimed_at": at}
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            with connection.begin():
                found = connection.execute(candidates.with_for_update(skip_locked=True)).all()
                ids = [r.id for r in found]
                if ids:
                    connection.execute(sa.update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(take))
        else:
            # Read outside the write transaction: SQLite lets one writer at a time, and a read
            # snapshot that another dispatcher outdated could not be upgraded to a write.
            while True:
                found = connection.execute(candidates).all()
                connection.rollback()
                ids = [r.id for r in found]
                if not ids:
                    break
                with connection.begin():
                    taken = connection.execute(
                        sa.update(OUTBOX).where(OUTBOX.c.id.in_(ids), due).values(take)
                    ).rowcount
                if taken:
                    break
                # Another dispatcher took every candidate between the read and the update:
                # read again rather than end the pass while messages are still due.
        if not ids:
            return [], 0
        rows = connection.execute(
            sa.select(OUTBOX)
            .where(OUTBOX.c.claimed_by == token, OUTBOX.c.status == SENDING.value)
            .order_by(OUTBOX.c.send_at, OUTBOX.c.id)
        ).all()
        connection.rollback()
    was_sending = {r.id for r in found if r.status == SENDING.value}
    return rows, sum(1 for r in rows if r.id in was_sending)


# `sent` results, the most frequent by far, are written by one statement for a whole run of
# them (executemany): building a statement per message cost more than its transaction's share.
_RECORD_SENT = (
    sa.update(OUTBOX)
    .where(OUTBOX.c.id == sa.bindparam("_id", type_=OUTBOX.c.id.type))
    .values(
        status=SENT.value,
        sent_at=sa.bindparam("_at", type_=OUTBOX.c.sent_at.type),
        attempts=OUTBOX.c.attempts + sa.bindparam("_tried", type_=sa.Integer()),
        subject=sa.bindparam("_subject", type_=OUTBOX.c.subject.type),
        last_error=None,
    )
)


def record_outcomes(engine: sa.Engine, *, outcomes: Sequence[Outcome]) -> None:
    """Write a group of results in one transaction, in order."""
    with engine.begin() as connection:
        write_outcomes(connection, outcomes=outcomes)


def write_outcomes(connection: sa.Connection, *, outcomes: Sequence[Outcome]) -> None:
    """Write a group of results, in order, in the connection's transaction."""
    sent: list[dict[str, Any]] = []
    for outcome in outcomes:
        # A result only lands while the claim is ours; `sent` always does, being true.
        if outcome.status is SENT:
            sent.append(
                {
                    "_id": outcome.id,
                    "_at": outcome.at,
                    "_tried": 1 if outcome.attempted else 0,
                    "_subject": outcome.subject,
                }
            )
            continue
        if sent:
            connection.execute(_RECORD_SENT, sent)
            sent = []
        _record_unsent(connection, outcome)
    if sent:
        connection.execute(_RECORD_SENT, sent)


class RecordingThread:
    """Commits groups of results on one thread of its own, over one connection kept for the
    pass: a transaction per group then costs no pool checkout and reset around it."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-recorder")
        self.connection: sa.Connection | None = None

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, self._record, outcomes)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.executor, self._close)
        self.executor.shutdown(wait=False)

    def _record(self, outcomes: Sequence[Outcome]) -> None:
        if self.connection is None:
            self.connection = self.engine.connect()
        with self.connection.begin():
            write_outcomes(self.connection, outcomes=outcomes)

    def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # after a failure, already reported
                connection.close()


def _record_unsent(connection: sa.Connection, outcome: Outcome) -> None:
    row = OUTBOX.c.id == outcome.id
    ours = sa.and_(row, OUTBOX.c.claimed_by == outcome.token, OUTBOX.c.status == SENDING.value)
    attempts = OUTBOX.c.attempts + (1 if outcome.attempted else 0)
    if outcome.status is PENDING:
        connection.execute(
            sa.update(OUTBOX)
            .where(ours)
            .values(
                status=PENDING.value,
                attempts=attempts,
                # Untried: it keeps the error of its last attempt, if any.
                last_error=OUTBOX.c.last_error if outcome.reply is None else outcome.reply,
                send_at=outcome.retry_at or OUTBOX.c.send_at,
                claimed_by=None,
                claimed_at=None,
            )
        )
    else:
        connection.execute(
            sa.update(OUTBOX)
            .where(ours)
            .values(
                status=outcome.status.value,
                attempts=attempts,
                last_error=outcome.reply,
                subject=outcome.subject,
            )
        )
