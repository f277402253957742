"""`accel web --now` serves a rehearsal at its own moment; without --now it refuses one.

The real command in a process of its own, over real HTTP on a free 127.0.0.1 port.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app

ACCEL = Path(sys.executable).parent / "accel"
USERNAME = "operator"
PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def env(sqlite_url: str, small_cohort_path: Path) -> dict[str, str]:
    """The small cohort rehearsed from 1 May 2024; operator credentials for /ops/."""
    settings = {k: v for k, v in os.environ.items() if not k.startswith("ACCEL_")}
    settings |= {
        "ACCEL_DATABASE_URL": sqlite_url,
        "ACCEL_OPERATOR_USERNAME": USERNAME,
        "ACCEL_OPERATOR_PASSWORD": PASSWORD,
        "ACCEL_SESSION_SECRET": "test-session-secret-" + "x" * 32,
    }
    applied = CliRunner().invoke(
        app,
        ["apply", "--cohort", str(small_cohort_path), "--now", "2024-05-01T13:00Z"],
        env=settings,
    )
    assert applied.exit_code == 0, applied.output
    return settings


@pytest.fixture
def web_at(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """`accel web --now 2024-09-02T14:30Z` running; its base URL."""
    port = free_port()
    log = (tmp_path / "web.log").open("w")
    process = subprocess.Popen(
        [str(ACCEL), "web", "--port", str(port), "--now", "2024-09-02T10:30-04:00"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:  # polling the server until it answers, bounded
            assert process.poll() is None, (tmp_path / "web.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "accel web did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_web_now_serves_the_rehearsal_at_its_moment(web_at: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=web_at, timeout=30) as client:
        form = client.get("/ops/login")
        found = _CSRF.search(form.text)
        assert found is not None
        login = client.post(
            "/ops/login",
            data={"username": USERNAME, "password": PASSWORD, "csrf_token": found.group(1)},
        )
        assert login.status_code == 303, login.text
        page = client.get("/ops/")
        assert page.status_code == 200
        assert '<time datetime="2024-09-02T14:30:00+00:00">2024-09-02 14:30 UTC</time>' in page.text
        export = client.get("/ops/deliverables.csv")
        assert export.status_code == 200
        disposition = export.headers["content-disposition"]
        assert disposition == 'attachment; filename="test-small-deliverables-2024-09-02.csv"'
    assert "serving at the fixed moment 2024-09-02T14:30:00Z" in (tmp_path / "web.log").read_text()


def test_web_without_now_refuses_a_rehearsal(env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(ACCEL), "web", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(
        "accel web: refused at the real clock: this database holds a rehearsal that reached "
        "2024-05-01T13:00:00Z (by accel apply --now)"
    )
    assert "Pass --now (e.g. --now 2024-05-01T13:00:00Z)" in line
