"""A Prefect worker killed with SIGKILL mid-flow, and the flow run again on another worker.

A real Prefect server (SQLite, its own PREFECT_HOME), the `dispatch-messages` deployment on a
process work pool, and `prefect worker start` processes with the application's settings, as a
worker machine has them. The first worker and the flow run it started are killed together
(SIGKILL to the whole process tree: the machine is gone) while the slow SMTP sink is
accepting messages. A second worker then runs the deployment with `now` past the lease. Nothing
is lost; the duplicates are only those the dispatcher's guarantee allows (mail/dispatcher.py):
messages whose acceptance was never committed, all among the rows the dead run held, at most
2 x send_concurrency.

Prefect is driven from subprocesses (the `prefect` command and small scripts), so this test
never touches the Prefect settings of the pytest process (tests/flows runs a test harness).
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accel.database import create_schema, make_engine
from mail.dispatcher import LEASE

DEPLOYMENT = "dispatch_messages/dispatch-messages"
POOL = "accel-faults"
SERVER_STARTUP_SECONDS = 120
PREFECT = [sys.executable, "-m", "prefect"]

DEPLOY = f"""
from prefect import deploy
from prefect.types.entrypoint import EntrypointType
from flows.dispatch_messages import dispatch_messages
deploy(
    dispatch_messages.to_deployment(
        name="dispatch-messages", entrypoint_type=EntrypointType.MODULE_PATH
    ),
    work_pool_name={POOL!r}, build=False, push=False,
    print_next_steps_message=False, ignore_warnings=True,
)
"""
RUN = """
import datetime as dt, sys
from prefect.deployments import run_deployment
now = dt.datetime.fromisoformat(sys.argv[2])
run = run_deployment(sys.argv[1], parameters={"now": now}, timeout=0, as_subflow=False)
print(run.id)
"""
STATE = """
import sys, uuid
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    state = client.read_flow_run(uuid.UUID(sys.argv[1])).state
print(state.type.value if state else "NONE")
"""


class Prefect:
    """One Prefect server for the module's tests, and the commands that use it."""

    def __init__(self, home: Path, faults: Any) -> None:
        self.home, self.faults = home, faults
        self.port = faults.free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.env = faults.clean_env(
            PREFECT_HOME=str(home),
            PREFECT_API_URL=self.api,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_UI_ENABLED="false",
        )
        self.workers: list[subprocess.Popen[bytes]] = []
        self.log = home / "server.log"
        with self.log.open("wb") as out:
            self.server = subprocess.Popen(
                [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=faults.repo,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def python(self, script: str, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=self.faults.repo,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*PREFECT, *args],
            cwd=self.faults.repo,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def healthy(self) -> bool:
        assert self.server.poll() is None, self.log.read_text()[-3000:]
        script = f"import httpx; print(httpx.get({self.api + '/health'!r}, timeout=2).status_code)"
        try:
            return self.python(script, timeout=30) == "200"
        except AssertionError:
            return False

    def worker(self, name: str, app_env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
        log = logs / f"{name}.log"
        command = [*PREFECT, "worker", "start", "--pool", POOL, "--type", "process"]
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [*command, "--name", name, "--limit", "1"],
                cwd=logs,
                env=self.env | app_env | {"PREFECT_WORKER_QUERY_SECONDS": "1"},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        """Every worker still running, and the flow runs it started."""
        while self.workers:
            worker = self.workers.pop()
            if worker.poll() is None:
                self.faults.kill_tree(worker)

    def run(self, now: dt.datetime) -> str:
        return self.python(RUN, DEPLOYMENT, now.isoformat())

    def state(self, run: str) -> str:
        return self.python(STATE, run)

    def close(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait(timeout=30)


@pytest.fixture
def prefect(prefect_server: Prefect) -> Iterator[Prefect]:
    """The module's server; the workers a test starts are gone when it ends, pass or fail."""
    try:
        yield prefect_server
    finally:
        prefect_server.stop_workers()


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory, faults: Any) -> Iterator[Prefect]:
    server = Prefect(tmp_path_factory.mktemp("prefect-home"), faults)
    try:
        faults.wait_until("the Prefect server", server.healthy, seconds=SERVER_STARTUP_SECONDS)
        server.cli("work-pool", "create", POOL, "--type", "process")
        server.python(DEPLOY)
        yield server
    finally:
        server.close()


def statuses(faults: Any, engine: Any) -> dict[str, str]:
    """The status of every message due before the program: the 373 invitations."""
    due = faults.before_program
    return {r.message_id: r.status for r in faults.outbox(engine) if r.send_at <= due}


def reports(log: Path) -> list[dict[str, Any]]:
    """The counts each dispatch flow run logged ("dispatch_messages at ...: {...}"): a Python
    dict's repr (its `held` may be None), read back as a literal."""
    found = re.findall(r"dispatch_messages at \S+: (\{[^}]*\})", log.read_text(errors="replace"))
    return [ast.literal_eval(text) for text in found]


def test_worker_killed_mid_flow_then_rerun(
    database_url: str, sink: Any, tmp_path: Path, prefect: Prefect, faults: Any
) -> None:
    engine = make_engine(database_url)
    create_schema(engine)
    faults.apply_small(engine, tmp_path, immediate=True)
    everything = statuses(faults, engine)
    assert len(everything) == 373
    # A slow server (it has each message at once, answers 0.25 s later): the kill lands with
    # messages in flight, and a group commit holds a result or two, as with a real provider.
    sink.delay = 0.25
    sink.start()
    app_env = faults.dispatch_env(database_url, sink.port)
    now = faults.before_program

    first = prefect.worker("worker-doomed", app_env, tmp_path)
    run = prefect.run(now)
    faults.wait_until("the first flow run to be sending", lambda: len(sink.ids()) >= 60)
    killed = faults.kill_tree(first)
    assert len(killed) >= 2, "the worker and the flow run's process"
    at_kill = statuses(faults, engine)
    held = {m for m, status in at_kill.items() if status == "sending"}
    assert held, "the kill should leave claimed rows behind"
    assert list(at_kill.values()).count("sent") < 373
    assert prefect.state(run) == "RUNNING"  # nobody told the server: the machine just died

    # Another machine takes over; the dead run's rows are claimed again once the lease ran out.
    prefect.worker("worker-survivor", app_env, tmp_path)
    rerun = prefect.run(now + LEASE + dt.timedelta(minutes=1))
    faults.wait_until(
        "the re-run to finish",
        lambda: prefect.state(rerun) in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"},
        seconds=180,
    )
    assert prefect.state(rerun) == "COMPLETED", (tmp_path / "worker-survivor.log").read_text()
    prefect.stop_workers()  # its output is complete
    (report,) = reports(tmp_path / "worker-survivor.log")
    assert report["reclaimed"] == len(held), report
    assert report["failed"] == report["cancelled"] == 0, report

    final = statuses(faults, engine)
    assert set(final.values()) == {"sent"}
    received = sink.counts()
    assert set(received) == set(everything)  # nothing lost
    duplicates = {m for m, n in received.items() if n > 1}
    print(f"held by the killed run: {len(held)}, delivered twice: {len(duplicates)}")
    assert duplicates <= held
    assert len(duplicates) <= 3 * faults.concurrency  # the bound the README states
    assert max(received.values()) <= 2
    engine.dispose()
