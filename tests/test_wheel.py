"""The built wheel, installed in a fresh venv, runs the engine from an empty folder.

Slow (marked `slow`): it builds the wheel, installs it with its dependencies from the package
registry (fast with pip's cache) and replays the demo; a few minutes in all. It runs with every
other test; it skips, saying so, only when the package registry cannot be reached.

An editable install finds the data in the checkout whatever the code does; only a real install
shows whether the migrations, programs, cohorts, scenarios and templates are found as package
resources (`Path doesn't exist: .../site-packages/migrations` was the symptom when they were not).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT = 600  # seconds; the build backend (setuptools) comes from the registry
INSTALL_TIMEOUT = 1200  # every dependency of the engine, from the registry or pip's cache
COMMAND_TIMEOUT = 180
DEMO_TIMEOUT = 900  # six simulated months: about a minute on an idle machine
# A warning class in the build backend's output: SetuptoolsDeprecationWarning, _Warning, ...
BUILD_WARNING = re.compile(r"\b[A-Za-z_]*Warning\b")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    build_output: str
    accel: Path  # the venv's console script


def registry_unreachable() -> str | None:
    """Why pip cannot reach its package index (as configured here), or None when it can."""
    probe = [sys.executable, "-m", "pip", "index", "versions", "setuptools"]
    try:
        result = subprocess.run(
            [*probe, "--retries", "1", "--timeout", "20"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return "`pip index versions setuptools` did not answer within 120 s"
    if result.returncode != 0:
        return f"`pip index versions setuptools` failed: {result.stderr.strip()[-300:]}"
    return None


def copy_sources(target: Path) -> Path:
    """What the build reads (pyproject.toml, README.md, the packages), without local state.

    Building in the checkout would write build/ there, whose leftovers end up in later wheels.
    """
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    target.mkdir()
    for name in ("pyproject.toml", pyproject["project"]["readme"]):
        shutil.copy2(REPO / name, target / name)
    for package in pyproject["tool"]["setuptools"]["packages"]:
        if "." not in package:
            shutil.copytree(
                REPO / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
            )
    return target


def run(command: list[str], *, timeout: float, **options: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **options)
    assert result.returncode == 0, (
        f"{' '.join(command)} exited {result.returncode}\n"
        f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    reason = registry_unreachable()
    if reason is not None:
        pytest.skip(
            f"package registry unreachable, cannot install the wheel's dependencies: {reason}"
        )
    root = tmp_path_factory.mktemp("wheel")
    sources = copy_sources(root / "src")
    built = run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(root / "dist"), "."],
        cwd=sources,
        timeout=BUILD_TIMEOUT,
    )
    [wheel] = (root / "dist").glob("*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], timeout=COMMAND_TIMEOUT)
    run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        timeout=INSTALL_TIMEOUT,
    )
    return Installed(wheel, built.stdout + built.stderr, venv / "bin" / "accel")


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def engine_env(empty_dir: Path, **accel: str) -> dict[str, str]:
    """This environment without the tester's ACCEL_, PREFECT_ or PYTHON settings (PYTHONPATH
    could reach the checkout), Prefect's files outside the working folder, and `accel`."""
    mine = ("ACCEL_", "PREFECT_", "PYTHON", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(mine)}
    env |= {"PREFECT_HOME": str(empty_dir.parent / "prefect-home"), "COLUMNS": "200"}
    return env | {f"ACCEL_{name.upper()}": value for name, value in accel.items()}


def free_port() -> int:
    """aiosmtpd 1.4.6 cannot take port 0 (its start-up check connects to the given port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Inbox:
    """An SMTP server's handler that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope.content)
        return "250 2.0.0 queued"


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    yield inbox, port
    controller.stop()


def test_wheel_holds_the_data(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for expected in (
        "migrations/alembic.ini",
        "migrations/env.py",
        "migrations/script.py.mako",
        "migrations/versions/0001_engine_core.py",
        "programs/cda-accelerator.yaml",
        "cohorts/cda-2024.yaml",
        "scenarios/cda-2024-rehearsal.yaml",
        "email_templates/en/invitation.html",
        "web/templates/login.html",
        "web/static/dashboard.css",
    ):
        assert expected in names


def test_builds_without_setuptools_warnings(installed: Installed) -> None:
    warnings = [line for line in installed.build_output.splitlines() if BUILD_WARNING.search(line)]
    assert warnings == []


def test_validate_apply_dispatch(
    installed: Installed, empty_dir: Path, smtp_inbox: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_inbox
    env = engine_env(empty_dir, smtp_host="127.0.0.1", smtp_port=str(port))
    accel = str(installed.accel)

    def command(*args: str) -> str:
        return run([accel, *args], cwd=empty_dir, env=env, timeout=COMMAND_TIMEOUT).stdout

    assert "site-packages/cohorts/cda-2024.yaml" in command("validate")  # the shipped cohort
    command("apply", "--now", "2024-05-01T13:00Z")  # the schema comes from the migrations
    report = command("dispatch", "--now", "2024-06-05T13:00Z")
    found = re.search(r"(\d+) sent, 0 failed", report)
    assert found, report
    assert int(found.group(1)) == len(inbox.messages) > 0
    parser = BytesParser(policy=default_policy)
    assert all(parser.parsebytes(content)["Subject"] for content in inbox.messages)


def test_web(installed: Installed, empty_dir: Path) -> None:
    port = free_port()
    env = engine_env(empty_dir, operator_username="ops", operator_password="wheel-test-secret")
    server = subprocess.Popen(
        [str(installed.accel), "web", "--port", str(port), "--no-access-log"],
        cwd=empty_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while True:
            assert server.poll() is None, server.communicate(timeout=COMMAND_TIMEOUT)[0]
            try:
                health = httpx.get(f"{base}/healthz", timeout=10)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "accel web did not answer"
                time.sleep(0.2)
        assert (health.status_code, health.text) == (200, "ok\n")
        login = httpx.get(f"{base}/ops/login", timeout=10)  # a page from the templates
        assert login.status_code == 200
        assert 'name="password" type="password"' in login.text
        assert httpx.get(f"{base}/static/dashboard.css", timeout=10).status_code == 200
    finally:
        server.terminate()
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate(timeout=30)


def test_demo(installed: Installed, empty_dir: Path) -> None:
    result = run(
        [str(installed.accel), "demo"],
        cwd=empty_dir,
        env=engine_env(empty_dir),
        timeout=DEMO_TIMEOUT,
    )
    assert "scenario (scenarios/cda-2024-rehearsal.yaml)" in result.stdout
    emails = list((empty_dir / "demo-output" / "outbox").glob("*.eml"))
    assert len(emails) > 1000
    assert list((empty_dir / "demo-output" / "calendars").rglob("*.ics"))
