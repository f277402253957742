"""Fault tests: real processes on 127.0.0.1 (an SMTP sink, dispatchers, Prefect, PostgreSQL),
each wait bounded. The sink is `bench/cluster.py sink`: a process that appends the Message-ID
of every message it accepts to a file, so it can be killed and started again on its port.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from accel.inputs import load_inputs
from models.outbox import OUTBOX
from tasks.operations import apply_cohort

REPO = Path(__file__).resolve().parent.parent.parent
SHIPPED_PROGRAM = REPO / "programs" / "cda-accelerator.yaml"
SMALL_COHORT = REPO / "tests" / "data" / "cohorts" / "small.yaml"
BEFORE_PROGRAM = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
CONCURRENCY = 4
ACCEL = [sys.executable, "-c", "from cli.main import app; app()"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_until(what: str, condition: Callable[[], bool], *, seconds: float = 120) -> None:
    """Bounded polling of a process, a server or a file: every 20 ms, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.02)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any ACCEL_ or PREFECT_ setting of the caller, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACCEL_", "PREFECT_"))}
    return env | extra


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc), children before their children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def kill_tree(process: subprocess.Popen[Any]) -> list[int]:
    """SIGKILL a process and everything it started: a machine that loses power."""
    tree = [process.pid, *descendants(process.pid)]
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)
    return tree


@dataclass
class Sink:
    """The SMTP sink process on a fixed port; stop it and start it again, the log carries on."""

    log: Path
    port: int = field(default_factory=free_port)
    delay: float = 0.0
    process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        command = [sys.executable, str(REPO / "bench" / "cluster.py"), "sink"]
        command += ["--port", str(self.port), "--log", str(self.log), "--delay", str(self.delay)]
        self.process = subprocess.Popen(
            command, cwd=REPO, env=clean_env(), stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def kill(self) -> None:
        """Gone at once: SIGKILL, connections reset, the port refuses until `start`."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def ids(self) -> list[str]:
        """Message-IDs accepted, in order of acceptance (over every life of the sink)."""
        if not self.log.exists():
            return []
        return [line for line in self.log.read_text().splitlines() if line]

    def counts(self) -> Counter[str]:
        return Counter(self.ids())


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    server = Sink(tmp_path / "sink-ids.txt")
    yield server
    server.stop()


def dispatch_env(database_url: str, port: int, *, concurrency: int = CONCURRENCY) -> dict[str, str]:
    """What a dispatcher machine is configured with, aimed at the test sink only."""
    return clean_env(
        ACCEL_DATABASE_URL=database_url,
        ACCEL_SMTP_HOST="127.0.0.1",
        ACCEL_SMTP_PORT=str(port),
        ACCEL_SMTP_TIMEOUT_SECONDS="10",
        ACCEL_SEND_RATE_PER_SECOND="0",
        ACCEL_SEND_CONCURRENCY=str(concurrency),
    )


def start_dispatch(
    database_url: str, port: int, now: dt.datetime, *extra: str, concurrency: int = CONCURRENCY
) -> subprocess.Popen[str]:
    """`accel dispatch --now NOW` in its own process: the dispatch flow's task body."""
    return subprocess.Popen(
        [*ACCEL, "dispatch", "--now", now.isoformat(), *extra],
        cwd=REPO,
        env=dispatch_env(database_url, port, concurrency=concurrency),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def dispatch(
    database_url: str,
    port: int,
    now: dt.datetime,
    *extra: str,
    concurrency: int = CONCURRENCY,
    expect_status: int = 0,
) -> str:
    """Its stdout; `expect_status` 1 where the mail server is down (messages left untried)."""
    process = start_dispatch(database_url, port, now, *extra, concurrency=concurrency)
    stdout, stderr = finish(process)
    assert process.returncode == expect_status, stderr
    return stdout


def finish(process: subprocess.Popen[str], seconds: float = 180) -> tuple[str, str]:
    """Its output once it exits; killed (and the test failed) if it runs longer than `seconds`."""
    try:
        return process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise


def immediate_program(folder: Path) -> Path:
    """The shipped program with every first invitation due at `apply` (tests/mail does too)."""
    (folder / "programs").mkdir(exist_ok=True)
    (folder / "cohorts").mkdir(exist_ok=True)
    text = SHIPPED_PROGRAM.read_text()
    text = text.replace("invitation_lead: P21D", "invitation_lead: P52W")
    text = text.replace("notify_before: P7D", "notify_before: P52W")
    (folder / "programs" / SHIPPED_PROGRAM.name).write_text(text)
    cohort = folder / "cohorts" / "small.yaml"
    shutil.copy(SMALL_COHORT, cohort)
    return cohort


def apply_small(engine: sa.Engine, folder: Path, *, immediate: bool) -> None:
    """The three-city cohort applied before the program (373 invitations due if `immediate`)."""
    cohort = immediate_program(folder) if immediate else SMALL_COHORT
    apply_cohort(engine, load_inputs(cohort), now=BEFORE_PROGRAM)


def outbox(engine: sa.Engine) -> list[Any]:
    """Every outbox row, by (send_at, id): the order the dispatcher claims them in."""
    with engine.connect() as connection:
        return list(connection.execute(sa.select(OUTBOX).order_by(OUTBOX.c.send_at, OUTBOX.c.id)))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "postgres_url" if request.param == "postgresql" else "sqlite_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(scope="session")
def faults() -> Any:
    """This module's helpers for the tests (the test folders are not packages)."""

    class Faults:
        apply_small = staticmethod(apply_small)
        outbox = staticmethod(outbox)
        dispatch = staticmethod(dispatch)
        start_dispatch = staticmethod(start_dispatch)
        finish = staticmethod(finish)
        dispatch_env = staticmethod(dispatch_env)
        clean_env = staticmethod(clean_env)
        kill_tree = staticmethod(kill_tree)
        wait_until = staticmethod(wait_until)
        free_port = staticmethod(free_port)
        before_program = BEFORE_PROGRAM
        concurrency = CONCURRENCY
        repo = REPO

    return Faults
