"""`accel serve` for real: a local Prefect server, the deployments registered, and the dispatcher
run by its schedule (not by hand) sending the invitations that are due, as .eml files.

Slow by nature (a Prefect server starts in 20-30 s, then a scheduled run must come round, in a
new process): about a minute on an idle 2-core machine, bounded at SERVE_DEADLINE_SECONDS.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from accel.database import create_schema, make_engine
from accel.inputs import load_inputs
from accel.prefect_server import free_port
from models.outbox import OUTBOX
from tasks.operations import apply_cohort

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "tests" / "data" / "cohorts" / "small.yaml"
SERVE_DEADLINE_SECONDS = 150.0
DISPATCH_EVERY_SECONDS = 10


def _future_cohort(folder: Path, today: dt.date) -> Path:
    """The small cohort with its convening five weeks ahead (a Wednesday), so its invitations
    are due now on the real clock: the scheduled dispatcher runs with no `now` of its own."""
    day = today + dt.timedelta(weeks=5)
    day += dt.timedelta(days=(2 - day.weekday()) % 7)
    convening = (
        f"convening: {{date: {day.isoformat()}, timezone: America/New_York, "
        'venue: {name: Test Hall, address: "1 Test Street, Baltimore, MD"}}\n'
    )
    text = SMALL.read_text()
    marker = "virtual_meeting:"
    assert marker in text
    (folder / "cohorts").mkdir()
    cohort = folder / "cohorts" / "future.yaml"
    cohort.write_text(text.replace(marker, convening + marker, 1))
    return cohort


def _apply(cohort: Path, database_url: str, now: dt.datetime) -> int:
    """Apply the cohort; return how many messages are due at `now`."""
    engine = make_engine(database_url)
    try:
        create_schema(engine)
        plan = apply_cohort(engine, load_inputs(cohort), now=now)
        assert plan.invitations
        with engine.connect() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count()).where(OUTBOX.c.send_at <= now)
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _sent(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count()).where(OUTBOX.c.status == "sent")
                ).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    """`accel serve` in its own process group, killed as a whole at the end, pass or fail."""
    now = dt.datetime.now(dt.UTC)
    cohort = _future_cohort(tmp_path, now.date())
    database_url = f"sqlite:///{tmp_path / 'accel.db'}"
    due = _apply(cohort, database_url, now)
    assert due > 0
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ACCEL_"))}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "ACCEL_DATABASE_URL": database_url,
        "ACCEL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "serve.log"
    accel = Path(sys.executable).with_name("accel")
    command = [str(accel), "serve", "--cohort", str(cohort)]
    command += ["--prefect-port", str(port), "--dispatch-every", str(DISPATCH_EVERY_SECONDS)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the server and flow runs too
        )
    info = {"api": f"http://127.0.0.1:{port}/api", "log": log, "due": due, "db": database_url}
    info |= {"outbox": tmp_path / "outbox", "port": port}
    try:
        yield process, info
    finally:
        stop(process, port)


STOP_SECONDS = 30.0


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def stop(process: subprocess.Popen[bytes], port: int) -> bool:
    """SIGTERM to the whole group (as Ctrl-C reaches a terminal's); SIGKILL what is left after
    STOP_SECONDS. True if `accel serve` exited by itself in time. Then nothing of the group may
    remain, and the port must close: the server, in its own session, is stopped by `accel
    serve` itself, or by the kernel (PR_SET_PDEATHSIG) when `accel serve` was killed."""
    if process.poll() is not None and not _port_open(port):
        return True
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    clean = True
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        clean = False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while True:  # polling the kernel and the port for stopped processes to go, bounded
        try:
            os.killpg(process.pid, 0)  # anyone left in the group?
        except ProcessLookupError:
            if not _port_open(port):
                return clean
        if time.monotonic() > deadline:
            raise AssertionError(f"accel serve's processes or its server (port {port}) survived")
        time.sleep(0.2)


def _scheduled_dispatch_runs(api: str) -> list[dict[str, Any]]:
    """Completed `dispatch_messages` runs that a deployment's schedule created."""
    body = {
        "flows": {"name": {"any_": ["dispatch_messages"]}},
        "flow_runs": {
            "state": {"type": {"any_": ["COMPLETED"]}},
            "deployment_id": {"is_null_": False},
        },
    }
    try:
        response = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=5)
    except httpx.HTTPError:
        return []  # the server is not up yet
    if response.status_code != 200:
        return []
    runs: list[dict[str, Any]] = response.json()
    return [r for r in runs if r["auto_scheduled"] and r["deployment_id"]]


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-40:])


def test_serve_runs_the_dispatcher_on_its_schedule(
    serve_process: tuple[subprocess.Popen[bytes], dict[str, Any]],
) -> None:
    process, info = serve_process
    outbox: Path = info["outbox"]
    deadline = time.monotonic() + SERVE_DEADLINE_SECONDS
    runs: list[dict[str, Any]] = []
    sent = files = 0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"accel serve exited with {process.returncode}:\n{_tail(info['log'])}")
        runs = _scheduled_dispatch_runs(info["api"])
        sent = _sent(info["db"])
        files = len(list(outbox.glob("*.eml")))
        # Only the scheduled dispatcher sends here: every message due, each as one file.
        if runs and sent >= info["due"] and files == sent:
            break
        time.sleep(1)  # polling the server and the outbox, bounded by the deadline
    else:
        pytest.fail(
            f"within {SERVE_DEADLINE_SECONDS:.0f} s: {info['due']} messages due, {sent} sent, "
            f"{files} .eml files; completed scheduled dispatch runs: {runs}\n{_tail(info['log'])}"
        )
    run = runs[0]
    assert run["state_type"] == "COMPLETED"
    assert run["idempotency_key"].startswith("scheduled ")
    # `accel serve` said what it serves and where.
    printed = info["log"].read_text(errors="replace")
    assert f"Prefect API: {info['api']}" in printed
    ui = info["api"].removesuffix("/api")
    assert f"Prefect UI:  {ui}" in printed
    assert httpx.get(ui, timeout=10).status_code == 200
    assert re.search(
        rf"dispatch_messages/dispatch-messages +every {DISPATCH_EVERY_SECONDS} s\n", printed
    )
    assert re.search(r"^Cohorts \(named with --cohort\):\n  test-small  ", printed, re.M)
    assert "check_deliverables/check-deliverables-test-small" in printed
    assert "cron 0 8 * * * (America/New_York)" in printed
    assert "triggered: prefect deployment run 'sync_cohort/sync-cohort-test-small'" in printed
    # Stopping: every process ends, the runner first (its last API calls find the server up).
    assert stop(process, info["port"]), f"accel serve ignored SIGTERM:\n{_tail(info['log'])}"
