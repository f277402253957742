"""PostgreSQL restarted under a running dispatcher: it fails cleanly, and the re-run completes.

The database is a throwaway cluster (`initdb` in a temporary folder, its own port on
127.0.0.1, run as the `postgres` user when we are root), never the shared server. It is
stopped in "immediate" mode (a crash: no checkpoint, connections cut) while the dispatcher is
sending to a slow SMTP sink, and started again once the dispatcher has given up. The
dispatcher is `accel dispatch`, the body of the dispatch flow's task (`send_due_messages`).

Skipped, like every PostgreSQL test, without ACCEL_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from accel.database import create_schema, make_engine
from mail.dispatcher import LEASE

POSTGRES_ENV = "ACCEL_TEST_POSTGRES_URL"


def postgres_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own in a temporary folder, on 127.0.0.1:<free port>."""

    def __init__(self, port: int) -> None:
        self.port = port
        initdb, pg_ctl = postgres_tool("initdb"), postgres_tool("pg_ctl")
        if initdb is None or pg_ctl is None:
            pytest.skip("initdb/pg_ctl not found: cannot make a throwaway PostgreSQL cluster")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.as_owner: list[str] = []
        # /tmp, not pytest's tmp_path: the server's user must be able to reach the folder.
        self.folder = Path(tempfile.mkdtemp(prefix="accel-throwaway-pg-"))
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no postgres user to run a cluster as")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.data = self.folder / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/accel"

    def run(self, *command: str) -> None:
        done = subprocess.run(
            [*self.as_owner, *command], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def create(self) -> None:
        self.run(self.initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        admin = sa.create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as connection:
            connection.execute(sa.text("CREATE DATABASE accel"))
        admin.dispose()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "server.log")
        self.run(self.pg_ctl, "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self.as_owner, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=120,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def throwaway_postgres(faults: Any) -> Iterator[ThrowawayPostgres]:
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(
            f"PostgreSQL not configured: set {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    cluster = ThrowawayPostgres(faults.free_port())
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.remove()


def test_database_restarted_mid_dispatch(
    throwaway_postgres: ThrowawayPostgres, sink: Any, tmp_path: Path, faults: Any
) -> None:
    url = throwaway_postgres.url
    engine = make_engine(url)
    create_schema(engine)
    faults.apply_small(engine, tmp_path, immediate=True)
    now = faults.before_program
    everything = {r.message_id for r in faults.outbox(engine) if r.send_at <= now}
    assert len(everything) == 373  # every invitation; the reminders are due later
    engine.dispose()  # no connection of ours across the crash
    # A slow server (it has each message at once, answers 0.25 s later): the crash lands with
    # messages in flight, and a group commit holds a result or two, as with a real provider.
    sink.delay = 0.25
    sink.start()

    running = faults.start_dispatch(url, sink.port, now)
    try:
        faults.wait_until("the dispatcher to be sending", lambda: len(sink.ids()) >= 60)
        throwaway_postgres.stop("immediate")  # a crash: connections cut, no checkpoint
    finally:
        # The run fails cleanly: an exception, promptly, not a hang and not a silent success.
        stdout, stderr = faults.finish(running, 120)
    assert running.returncode != 0, stdout
    assert "OperationalError" in stderr, stderr[-3000:]
    sent_before_restart = len(sink.ids())
    throwaway_postgres.start()

    engine = make_engine(url)
    rows = faults.outbox(engine)
    held = {r.message_id for r in rows if r.status == "sending"}
    assert held, "the crash should leave the rows the run held"
    # Stuck only until the lease: each claim is dated `now` plus the seconds the pass had run.
    assert all(r.claimed_at < now + dt.timedelta(minutes=5) for r in rows if r.status == "sending")
    assert {r.status for r in rows} == {"pending", "sending", "sent"}  # nothing failed

    # Run again at once: the rest is sent, the held rows are left to their lease.
    faults.dispatch(url, sink.port, now)
    due = [r for r in faults.outbox(engine) if r.message_id in everything]
    assert {r.message_id for r in due if r.status != "sent"} == held
    # Run again after the lease: the re-run takes them over and completes.
    output = faults.dispatch(url, sink.port, now + LEASE + dt.timedelta(minutes=1))
    assert f"{len(held)} reclaimed" in output, output
    assert {r.status for r in faults.outbox(engine) if r.message_id in everything} == {"sent"}

    received = sink.counts()
    assert set(received) == everything  # nothing lost
    duplicates = {m for m, n in received.items() if n > 1}
    print(
        f"accepted before the restart: {sent_before_restart}, held by the failed run: "
        f"{len(held)}, delivered twice: {len(duplicates)}"
    )
    assert duplicates <= held
    assert len(duplicates) <= 3 * faults.concurrency  # the bound the README states
    assert max(received.values()) <= 2
    engine.dispose()
