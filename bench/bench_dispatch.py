"""Benchmark: the dispatcher against a bare aiosmtplib loop, on one SMTP sink, in one run.

Run: .venv/bin/python bench/bench_dispatch.py [MESSAGES]   (default 10,000)

A sink SMTP server (aiosmtpd) runs in its own process and counts messages and distinct
Message-IDs. The run queues MESSAGES invitations by applying a generated cohort to a fresh
SQLite file, then measures, on the same sink:
  1. rendering: each message rendered once (the cost eager rendering would pay at `apply`);
  2. bare: those bytes sent by one aiosmtplib connection in a loop (the floor to compare with);
  3. dispatcher, lazy: `send_due_messages` as deployed (claims, renders, sends, records);
  4. dispatcher, pre-rendered: the same with every row's bytes already stored (`raw`), which
     isolates the outbox's own cost (claiming, recording, concurrency) from rendering;
  5. two dispatcher processes, lazy, on one more copy of the queue: rendering spread over cores;
  6. recording: one transaction per sent message against one per group of 20.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
INVITATIONS_PER_CITY = 130  # at least, with the shipped program and the generated cities


def run_sink() -> None:
    """The sink process: print the port, answer `stats` on stdin, stop at end of input."""
    from aiosmtpd.controller import Controller

    message_id = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)

    class Counting:
        def __init__(self) -> None:
            self.messages = 0
            self.ids: set[bytes] = set()

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            self.messages += 1
            found = message_id.search(envelope.content)
            if found:
                self.ids.add(found.group(1))
            return "250 OK"

    handler = Counting()
    with socket.socket() as probe:  # aiosmtpd 1.4.6 cannot take port 0: find a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    print(port, flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            print(json.dumps({"messages": handler.messages, "ids": len(handler.ids)}), flush=True)
    controller.stop()


class Sink:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--sink"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def stats(self) -> dict[str, int]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        result: dict[str, int] = json.loads(self.process.stdout.readline())
        return result

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def queue_invitations(root: Path, messages: int) -> Path:
    """A fresh SQLite file with at least `messages` invitations pending at NOW."""
    import sqlalchemy as sa

    from accel.database import create_schema, make_engine
    from accel.inputs import load_inputs
    from bench.generated_cohort import generated_cohort
    from models.outbox import OUTBOX
    from tasks.operations import apply_cohort

    (root / "cohorts").mkdir()
    (root / "programs").mkdir()
    shutil.copy(REPO / "programs" / "cda-accelerator.yaml", root / "programs")
    cohort = root / "cohorts" / "bench.yaml"
    cohort.write_text(generated_cohort(messages // INVITATIONS_PER_CITY + 2))
    database = root / "lazy.db"
    engine = make_engine(f"sqlite:///{database}")
    create_schema(engine)
    apply_cohort(engine, load_inputs(cohort), now=NOW)
    # Exactly `messages` invitations due at NOW: the first ones in send order. Invitations go
    # out `invitation_lead` before their session, so most are queued for later: those kept are
    # brought forward to NOW, in the order they would have gone; everything else is cancelled.
    pending = (
        sa.select(OUTBOX.c.id)
        .where(OUTBOX.c.status == "pending", OUTBOX.c.kind == "invitation")
        .order_by(OUTBOX.c.send_at, OUTBOX.c.id)
        .limit(messages)
    )
    with engine.begin() as connection:
        keep = [r.id for r in connection.execute(pending)]
        connection.execute(sa.update(OUTBOX).where(OUTBOX.c.id.in_(keep)).values(send_at=NOW))
        connection.execute(
            sa.update(OUTBOX).where(OUTBOX.c.id.not_in(keep)).values(status="cancelled")
        )
    engine.dispose()
    return database


def due_rows(engine: Any, messages: int) -> list[Any]:
    from models.outbox import OUTBOX

    with engine.connect() as connection:
        return list(connection.execute(sa_select_due(OUTBOX).limit(messages)))


def sa_select_due(table: Any) -> Any:
    import sqlalchemy as sa

    return (
        sa.select(table)
        .where(table.c.status == "pending", table.c.send_at <= NOW)
        .order_by(table.c.send_at, table.c.id)
    )


def render_all(engine: Any, rows: list[Any]) -> tuple[list[bytes], float]:
    """Every row's message, and the seconds that took."""
    from mail.render import load_render_sources, render_row
    from mail.shared_renderer import SharedRenderer

    with engine.connect() as connection:
        sources = load_render_sources(connection, rows=rows)
    renderer = SharedRenderer()  # as the dispatcher renders: one per pass
    started = time.perf_counter()
    data = [render_row(row, sources, date=NOW, renderer=renderer).data for row in rows]
    return data, time.perf_counter() - started


def forget_rendering() -> None:
    """Empty the rendering caches, so a dispatcher gains nothing from the rendering measured
    before it; the Jinja templates stay compiled, as in a process that has sent before."""
    from calendars import invitations
    from mail import headers, mime
    from mail import templates as email_rendering

    for module in (email_rendering, invitations, mime, headers):
        for value in vars(module).values():
            if hasattr(value, "cache_clear") and value is not email_rendering.template_environment:
                value.cache_clear()


async def bare_loop(port: int, messages: list[bytes]) -> float:
    import aiosmtplib

    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="bench")
    await client.connect()
    started = time.perf_counter()
    for data in messages:
        await client.sendmail("accelerator@govex.example.org", ["someone@example.org"], data)
    elapsed = time.perf_counter() - started
    await client.quit()
    return elapsed


async def dispatch(database: Path, port: int, messages: int) -> tuple[float, Any]:
    from accel.database import make_engine
    from mail.dispatcher import DispatchOptions, send_due_messages
    from mail.senders import SmtpOptions, SmtpSender

    engine = make_engine(f"sqlite:///{database}")
    sender = SmtpSender(SmtpOptions(host="127.0.0.1", port=port))
    started = time.perf_counter()
    report = await send_due_messages(
        engine, now=NOW, sender=sender, options=DispatchOptions(), limit=messages
    )
    elapsed = time.perf_counter() - started
    await sender.aclose()
    engine.dispose()
    return elapsed, report


def store_raw(database: Path, rows: list[Any], data: list[bytes]) -> None:
    import sqlalchemy as sa

    from accel.database import make_engine
    from models.outbox import OUTBOX

    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == sa.bindparam("_id"))
            .values(raw=sa.bindparam("_raw")),
            [{"_id": row.id, "_raw": body} for row, body in zip(rows, data, strict=True)],
        )
    engine.dispose()


def recording_cost(database: Path, rows: list[Any], group: int) -> float:
    """Milliseconds per message to mark `sent`, committing every `group` messages."""
    import sqlalchemy as sa

    from accel.database import make_engine
    from mail.outbox_claims import Outcome, record_outcomes
    from models.outbox import OUTBOX, MessageStatus

    engine = make_engine(f"sqlite:///{database}")
    sample = rows[:2000]
    with engine.begin() as connection:
        connection.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id.in_([r.id for r in sample]))
            .values(status="sending", claimed_by="bench")
        )
    outcomes = [Outcome(r.id, "bench", MessageStatus.SENT, NOW, "250 OK") for r in sample]
    started = time.perf_counter()
    for start in range(0, len(outcomes), group):
        record_outcomes(engine, outcomes=outcomes[start : start + group])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed / len(sample) * 1000


def run_dispatcher_process(database: str, port: int, messages: int) -> None:
    """One of several dispatcher processes: print what it sent and when it started and ended."""
    import mail.dispatcher
    import mail.render  # noqa: F401 - imported before the clock starts

    started = time.time()
    _, report = asyncio.run(dispatch(Path(database), port, messages))
    print(json.dumps({"sent": report.sent, "started": started, "ended": time.time()}))


def parallel_dispatch(database: Path, port: int, messages: int, processes: int) -> float:
    """Messages per second of `processes` dispatchers sharing one queue, start to last end."""
    running = [
        subprocess.Popen(
            [sys.executable, __file__, "--dispatch", str(database), str(port), str(messages)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = [json.loads(p.communicate(timeout=3600)[0]) for p in running]
    sent: int = sum(r["sent"] for r in results)
    assert sent == messages, results
    window: float = max(r["ended"] for r in results) - min(r["started"] for r in results)
    return sent / window


def main() -> None:
    if sys.argv[1:] == ["--sink"]:
        run_sink()
        return
    if sys.argv[1:2] == ["--dispatch"]:
        run_dispatcher_process(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    from accel.database import make_engine

    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            started = time.perf_counter()
            lazy = queue_invitations(root, messages)
            print(f"queued by apply in {time.perf_counter() - started:.1f} s", flush=True)
            prerendered = root / "prerendered.db"
            shutil.copy(lazy, prerendered)
            shared = root / "shared.db"
            shutil.copy(lazy, shared)
            engine = make_engine(f"sqlite:///{lazy}")
            rows = due_rows(engine, messages)
            data, render_s = render_all(engine, rows)
            engine.dispose()
            store_raw(prerendered, rows, data)
            size = sum(map(len, data)) / len(data)
            print(
                f"rendering:               {render_s / len(rows) * 1000:6.2f} ms/message, "
                f"{size / 1024:.1f} KB each ({len(rows)} invitations)",
                flush=True,
            )
            bare_s = asyncio.run(bare_loop(sink.port, data))
            bare = len(data) / bare_s
            print(f"bare aiosmtplib loop:    {bare:6.0f} messages/s (1 connection)", flush=True)
            for label, database in (
                ("dispatcher, lazy:", lazy),
                ("dispatcher, pre-rendered:", prerendered),
            ):
                forget_rendering()
                elapsed, report = asyncio.run(dispatch(database, sink.port, len(rows)))
                assert report.sent == len(rows), report
                rate = report.sent / elapsed
                print(
                    f"{label:<25}{rate:6.0f} messages/s ({report.sent} sent, "
                    f"4 connections) = {rate / bare:.0%} of bare",
                    flush=True,
                )
            rate = parallel_dispatch(shared, sink.port, len(rows), processes=2)
            print(
                f"{'2 dispatchers, lazy:':<25}{rate:6.0f} messages/s (2 processes) "
                f"= {rate / bare:.0%} of bare",
                flush=True,
            )
            for group in (1, 20):
                cost = recording_cost(root / "lazy.db", rows, group)
                print(f"recording, {group:>2} per commit:  {cost:6.2f} ms/message", flush=True)
            stats = sink.stats()
            print(
                f"sink: {stats['messages']} messages, {stats['ids']} distinct Message-IDs "
                f"(bare + 3 dispatcher runs of the same {len(rows)})"
            )
    finally:
        sink.close()


if __name__ == "__main__":
    main()
