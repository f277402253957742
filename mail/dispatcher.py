"""Send what is due in the outbox: claim rows, render, deliver, record; retry what may succeed.

Claiming (`mail/outbox_claims.py`): concurrent dispatchers take disjoint batches of due rows;
the next batch is claimed while one is sending; a row whose claim outlived the lease belonged
to a dispatcher that died and is claimed again.

Recording. Each accepted message is committed as `sent` as soon as possible: a recorder task
commits, in one transaction, every result that arrived while its previous commit ran (group
commit); the results queue is bounded (`concurrency` results), and the `sent` results of a
group are written by one statement. The window between the server's acceptance and the
commit stays about one commit long without paying a transaction per message
(`bench/bench_dispatch.py`, "recording", compares one message per commit with groups).

Guarantee: at-least-once; a duplicate needs the server to have accepted a message whose
acceptance the outbox never recorded. That happens in three windows only: the dispatcher dies
(or loses the database) between the server's "250" and the commit of that result; the
connection drops after the message's final "." but before the reply arrives (SMTP cannot tell
whether the server kept it, so it is retried); a dispatcher stalls longer than the lease while
holding a row (a pass sends nothing claimed more than half a lease ago, and an SMTP command
times out after the SMTP timeout, so that takes a process frozen for minutes). After a crash
the duplicates are at most 3 x `concurrency`: one message in flight per connection, a full
queue of results waiting for the recorder (bounded to `concurrency`, so senders wait when
recording lags), and the group being committed
(at most one queue's worth). `tests/mail/test_dispatch_processes.py` kills a dispatcher with
SIGKILL mid-batch, and `tests/faults/` kill a worker and crash PostgreSQL mid-run: every
duplicate is among the rows the dead run held, and within that bound. A duplicate
carries the same Message-ID, by which Gmail and many clients collapse copies. Every other
failure happens before the message is handed over (the row is retried) or is recorded.
`FileSender` writes one file per row, so a re-send replaces it: exactly one copy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from mail.outbox_claims import Outcome, RecordingThread, claim_due
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
from mail.shared_renderer import SharedRenderer
from mail.stale_guard import StaleCheck, check_started
from models.outbox import MessageStatus

PENDING, SENDING, SENT = MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.SENT
FAILED, CANCELLED = MessageStatus.FAILED, MessageStatus.CANCELLED
LEASE = dt.timedelta(minutes=10)
BATCH_SIZE = 100
MAX_ATTEMPTS = 12
RETRY_BASE = dt.timedelta(minutes=1)
RETRY_CAP = dt.timedelta(hours=2)


@dataclass(frozen=True)
class DispatchOptions:
    """What a dispatcher pass needs to know beyond the outbox and the sender."""

    concurrency: int = 4  # messages in flight at once
    mail_from: str | None = None  # the From address of every message; None: the organizer's


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


class _Pass:
    """One run of the dispatcher: a producer of claimed rows, senders, and a recorder."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        now: dt.datetime,
        sender: Sender,
        options: DispatchOptions,
        limit: int | None,
        worker: str,
        rng: random.Random,
        lease: dt.timedelta,
        batch_size: int,
        max_attempts: int,
        clock: Callable[[], float],
    ) -> None:
        self.engine, self.now, self.sender, self.options = engine, now, sender, options
        self.limit, self.worker, self.rng, self.lease = limit, worker, rng, lease
        self.batch_size, self.max_attempts, self.clock = batch_size, max_attempts, clock
        self.started = clock()
        self.report = DispatchReport()
        self.rows: asyncio.Queue[tuple[Any, RenderSources, str] | None] = asyncio.Queue(
            maxsize=batch_size
        )
        # Bounded, so that what the server has accepted and the outbox has not yet recorded
        # stays bounded when recording lags: at most one result held by each sender, a full
        # queue, and the group being committed, each `concurrency` (see the guarantee above).
        self.results: asyncio.Queue[Outcome | None] = asyncio.Queue(
            maxsize=max(1, options.concurrency)
        )
        self.stopping = False  # the server is unreachable or the results cannot be recorded
        self.renderer = SharedRenderer()  # a session's recipients share one template run

    def moment(self) -> dt.datetime:
        """`now` advanced by the time this pass has run: claims, retries and sent times."""
        return self.now + dt.timedelta(seconds=self.clock() - self.started)

    async def run(self) -> DispatchReport:
        workers = max(1, self.options.concurrency)
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
                mail_from=self.options.mail_from,
                renderer=self.renderer,
            )
        except ObsoleteMessageError as why:
            return Outcome(row.id, token, CANCELLED, moment, str(why), attempted=False)
        except Exception as error:  # RenderError, or stored data no message can be built from
            return Outcome(row.id, token, FAILED, moment, f"cannot render: {error}")
        envelope = Envelope(
            row.id,
            row.kind,
            message.envelope_from,
            message.recipient,
            message.data,
            message.copies,
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
        recording = RecordingThread(self.engine)
        try:
            await self._record_groups(recording)
        finally:
            await recording.close()

    async def _record_groups(self, recording: RecordingThread) -> None:
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
    options: DispatchOptions,
    limit: int | None = None,
    worker: str | None = None,
    rng: random.Random | None = None,
    lease: dt.timedelta = LEASE,
    batch_size: int = BATCH_SIZE,
    max_attempts: int = MAX_ATTEMPTS,
    clock: Callable[[], float] = time.monotonic,
    cancel_stale: bool = False,
) -> DispatchReport:
    """Send every message due at `now` (at most `limit`), `options.concurrency` at a time.

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
        options=options,
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
