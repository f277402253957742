"""Send what is due in the outbox: claim rows, render, deliver, record; retry what may succeed.

Claiming. PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`, then `status='sending'` in the same
transaction, so concurrent dispatchers take disjoint rows. SQLite: the candidates are read,
then one `UPDATE … SET status='sending', claimed_by=:batch WHERE id IN (…) AND <still due>`
takes them, and only the rows that update changed (found by the batch's unique `claimed_by`)
are sent; if another dispatcher took them all in between, the candidates are read again (a
dispatcher that loses that race does not end its pass). The next batch is claimed while one
is sending. A row left in `sending` longer than
the lease (its claim is dated `now` plus the time the claiming pass had run) belonged to a
dispatcher that died; it is claimed again.

Recording. Each accepted message is committed as `sent` as soon as possible: a recorder task
commits, in one transaction, every result that arrived while its previous commit ran (group
commit), on a thread and a connection of its own for the pass; the `sent` results of a group
(at most `send_concurrency`: the results queue is bounded) are written by one statement
(executemany). The window between the server's acceptance and the commit stays about one
commit long without paying a transaction per message (`bench/bench_dispatch.py`, "recording",
compares one message per commit with groups).

Guarantee: at-least-once; a duplicate needs the server to have accepted a message whose
acceptance the outbox never recorded. That happens in three windows only: the dispatcher dies
(or loses the database) between the server's "250" and the commit of that result; the
connection drops after the message's final "." but before the reply arrives (SMTP cannot tell
whether the server kept it, so it is retried); a dispatcher stalls longer than the lease while
holding a row (a pass sends nothing claimed more than half a lease ago, and an SMTP command
times out after `smtp_timeout_seconds`, so that takes a process frozen for minutes). After a crash the duplicates are at most 3 x `send_concurrency`: one message
in flight per connection, a full queue of results waiting for the recorder (bounded to
`send_concurrency`, so senders wait when recording lags), and the group being committed
(at most one queue's worth). `tests/email/test_dispatch_processes.py` kills a dispatcher with
SIGKILL mid-batch, and `tests/faults/` kill a worker and crash PostgreSQL mid-run: every
duplicate is among the rows the dead run held, and within that bound. A duplicate
carries the same Message-ID, by which Gmail and many clients collapse copies. Every other
failure happens before the message is handed over (the row is retried) or is recorded.
`FileSender` writes one file per row, so a re-send replaces it: exactly one copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from accel.settings import Settings
from mail.render import (
    ObsoleteMessageError,
    RenderSources,
    load_render_sources,
    render_row,
)
from mail.senders import (
    Envelope,
    PermanentSendError,
    Sender,
    SenderUnavailableError,
    TemporarySendError,
)
from mail.stale_guard import StaleCheck, check_started
from mail.templates import SharedRenderer
from models.outbox import OUTBOX, MessageStatus

PENDING, SENDING, SENT = MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.SENT
FAILED, CANCELLED = MessageStatus.FAILED, MessageStatus.CANCELLED
LEASE = dt.timedelta(minutes=10)
BATCH_SIZE = 100
MAX_ATTEMPTS = 12
RETRY_BASE = dt.timedelta(minutes=1)
RETRY_CAP = dt.timedelta(hours=2)


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0  # permanently: refused (5xx), could not be rendered, or out of attempts
    retried: int = 0  # back to pending with a later send_at
    cancelled: int = 0  # lost their purpose before sending (the session started, was cancelled)
    deferred: int = 0  # back to pending untried: the server could not be reached
    reclaimed: int = 0  # taken over from a dispatcher whose lease ran out
    errors: Counter[str] = field(default_factory=Counter)  # reply -> messages
    cancelled_because: Counter[str] = field(default_factory=Counter)  # reason -> messages
    failed_ids: list[int] = field(default_factory=list)  # the rows counted in `failed`
    # Set when the pass stopped before claiming anything: it would have cancelled too many
    # messages as already started (mail/stale_guard.py); nothing was sent or changed.
    held: StaleCheck | None = None


@dataclass(frozen=True)
class Outcome:
    id: int
    token: str  # the claim it was sent under
    status: MessageStatus
    at: dt.datetime
    reply: str | None = None
    subject: str | None = None
    attempted: bool = True
    retry_at: dt.datetime | None = None


def retry_delay(attempts: int, rng: random.Random) -> dt.timedelta:
    """Exponential backoff with jitter: half the ceiling plus up to the other half at random.

    >>> [retry_delay(n, random.Random(1)).total_seconds() // 60 for n in (1, 2, 3, 8, 30)]
    [0.0, 1.0, 2.0, 68.0, 68.0]
    """
    ceiling = min(RETRY_CAP, RETRY_BASE * 2 ** min(attempts - 1, 30))
    delay: dt.timedelta = ceiling / 2 + ceiling / 2 * rng.random()
    return delay


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def claim_due(
    engine: sa.Engine,
    *,
    now: dt.datetime,
    at: dt.datetime,
    token: str,
    limit: int,
    lease: dt.timedelta = LEASE,
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


class _RecordingThread:
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


class _Pass:
    """One run of the dispatcher: a producer of claimed rows, senders, and a recorder."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        now: dt.datetime,
        sender: Sender,
        settings: Settings,
        limit: int | None,
        worker: str,
        rng: random.Random,
        lease: dt.timedelta,
        batch_size: int,
        max_attempts: int,
        clock: Callable[[], float],
    ) -> None:
        self.engine, self.now, self.sender, self.settings = engine, now, sender, settings
        self.limit, self.worker, self.rng, self.lease = limit, worker, rng, lease
        self.batch_size, self.max_attempts, self.clock = batch_size, max_attempts, clock
        self.started = clock()
        self.report = DispatchReport()
        self.rows: asyncio.Queue[tuple[Any, RenderSources, str] | None] = asyncio.Queue(
            maxsize=batch_size
        )
        # Bounded, so that what the server has accepted and the outbox has not yet recorded
        # stays bounded when recording lags: at most one result held by each sender, a full
        # queue, and the group being committed, each `send_concurrency` (README: guarantee).
        self.results: asyncio.Queue[Outcome | None] = asyncio.Queue(
            maxsize=max(1, settings.send_concurrency)
        )
        self.stopping = False  # the server is unreachable or the results cannot be recorded
        self.renderer = SharedRenderer()  # a session's recipients share one template run

    def moment(self) -> dt.datetime:
        """`now` advanced by the time this pass has run: claims, retries and sent times."""
        return self.now + dt.timedelta(seconds=self.clock() - self.started)

    async def run(self) -> DispatchReport:
        workers = max(1, self.settings.send_concurrency)
        recorder = asyncio.create_task(self._record())
        senders = [asyncio.create_task(self._send()) for _ in range(workers)]
        try:
            await self._produce()
        except BaseException:
            self.stopping = True  # what is queued goes back untried, not sent unrecorded
            raise
        finally:
            for _ in senders:
                await self.rows.put(None)
            await asyncio.gather(*senders)
            await self.results.put(None)
            await recorder
        return self.report

    async def _produce(self) -> None:
        remaining = self.limit
        batch = 0
        while (remaining is None or remaining > 0) and not self.stopping:
            batch += 1
            token = f"{self.worker}:{batch}"
            size = self.batch_size if remaining is None else min(self.batch_size, remaining)
            rows, reclaimed = await asyncio.to_thread(
                claim_due,
                self.engine,
                now=self.now,
                at=self.moment(),
                token=token,
                limit=size,
                lease=self.lease,
            )
            if not rows:
                return
            self.report.reclaimed += reclaimed
            sources = await asyncio.to_thread(self._sources, rows)
            for row in rows:
                await self.rows.put((row, sources, token))
            if remaining is not None:
                remaining -= len(rows)

    def _sources(self, rows: Sequence[Any]) -> RenderSources:
        with self.engine.connect() as connection:
            return load_render_sources(connection, rows=rows)

    async def _send(self) -> None:
        while (item := await self.rows.get()) is not None:
            row, sources, token = item
            await self.results.put(await self._deliver(row, sources, token))

    async def _deliver(self, row: Any, sources: RenderSources, token: str) -> Outcome:
        moment = self.moment()
        if not self.stopping and moment - row.claimed_at >= self.lease / 2:
            # Claimed so long ago (the pass stalled: a slow server or database) that another
            # dispatcher may soon take the row over: this pass ends, the next one sends it.
            self.stopping = True
        if self.stopping:
            return Outcome(row.id, token, PENDING, moment, None, attempted=False)
        try:
            message = render_row(
                row,
                sources,
                date=moment,
                mail_from=self.settings.mail_from,
                renderer=self.renderer,
            )
        except ObsoleteMessageError as why:
            return Outcome(row.id, token, CANCELLED, moment, str(why), attempted=False)
        except Exception as error:  # RenderError, or stored data no message can be built from
            return Outcome(row.id, token, FAILED, moment, f"cannot render: {error}")
        envelope = Envelope(
            row.id, row.kind, message.envelope_from, message.recipient, message.data
        )
        try:
            reply = await self.sender.send(envelope)
        except SenderUnavailableError as error:
            # Not this message's fault: it goes back untried, and this pass stops claiming.
            self.stopping = True
            return Outcome(row.id, token, PENDING, self.moment(), error.reply, attempted=False)
        except TemporarySendError as error:
            return self._retry(row, token, error.reply)
        except PermanentSendError as error:
            return Outcome(
                row.id, token, FAILED, self.moment(), error.reply, subject=message.subject
            )
        except Exception as error:  # a bug in a sender must not strand the row in `sending`
            return self._retry(row, token, f"unexpected error: {error!r}")
        return Outcome(row.id, token, SENT, self.moment(), reply, subject=message.subject)

    def _retry(self, row: Any, token: str, reply: str) -> Outcome:
        attempts = row.attempts + 1
        moment = self.moment()
        if attempts >= self.max_attempts:
            return Outcome(
                row.id, token, FAILED, moment, f"gave up after {attempts} attempts: {reply}"
            )
        return Outcome(
            row.id, token, PENDING, moment, reply, retry_at=moment + retry_delay(attempts, self.rng)
        )

    async def _record(self) -> None:
        recording = _RecordingThread(self.engine)
        try:
            await self._record_groups(recording)
        finally:
            await recording.close()

    async def _record_groups(self, recording: _RecordingThread) -> None:
        failure: Exception | None = None
        done = False
        while not done:
            first = await self.results.get()
            group = [] if first is None else [first]
            done = first is None
            while not done and not self.results.empty():
                item = self.results.get_nowait()
                if item is None:
                    done = True
                else:
                    group.append(item)
            if group and failure is None:
                try:
                    await recording.record(group)
                except Exception as error:
                    # Sending on would deliver what cannot be recorded: duplicates later.
                    failure, self.stopping = error, True
                else:
                    self._count(group)
        if failure is not None:
            raise failure

    def _count(self, group: Sequence[Outcome]) -> None:
        report = self.report
        for outcome in group:
            if outcome.status is SENT:
                report.sent += 1
            elif outcome.status is FAILED:
                report.failed += 1
                report.failed_ids.append(outcome.id)
            elif outcome.status is CANCELLED:
                report.cancelled += 1
                report.cancelled_because[outcome.reply or "(no reason recorded)"] += 1
            elif outcome.attempted:
                report.retried += 1
            else:
                report.deferred += 1
            if outcome.status in (FAILED, PENDING) and outcome.reply:
                report.errors[outcome.reply] += 1


async def send_due_messages(
    engine: sa.Engine,
    *,
    now: dt.datetime,
    sender: Sender,
    settings: Settings,
    limit: int | None = None,
    worker: str | None = None,
    rng: random.Random | None = None,
    lease: dt.timedelta = LEASE,
    batch_size: int = BATCH_SIZE,
    max_attempts: int = MAX_ATTEMPTS,
    clock: Callable[[], float] = time.monotonic,
    cancel_stale: bool = False,
) -> DispatchReport:
    """Send every message due at `now` (at most `limit`), `settings.send_concurrency` at a time.

    `clock` only measures how long the pass has run, to date what it records after `now`.
    The caller owns `sender` (and closes it). Unless `cancel_stale`, a pass that would cancel
    too many messages as already started does nothing and says so in `held`.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not cancel_stale:
        check = await asyncio.to_thread(_check_started, engine, now, lease, limit)
        if check.too_many:
            return DispatchReport(held=check)
    run = _Pass(
        engine,
        now=now,
        sender=sender,
        settings=settings,
        limit=limit,
        worker=worker or worker_name(),
        rng=rng or random.Random(),  # noqa: S311
        lease=lease,
        batch_size=batch_size,
        max_attempts=max_attempts,
        clock=clock,
    )
    return await run.run()


def _check_started(
    engine: sa.Engine, now: dt.datetime, lease: dt.timedelta, limit: int | None
) -> StaleCheck:
    with engine.connect() as connection:
        return check_started(connection, now=now, lease=lease, limit=limit)


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
