"""The local Prefect server is started without our secrets in its environment."""

from __future__ import annotations

import contextlib
import doctest
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from accel import prefect_server
from accel.prefect_server import free_port, server_environment, start_server_process

SECRETS = {
    "ACCEL_SMTP_PASSWORD": "smtp-secret",
    "ACCEL_SMTP_USERNAME": "mailer",
    "ACCEL_DATABASE_URL": "postgresql+psycopg://accel:db-secret@db/accel",
    "ACCEL_OPERATOR_PASSWORD": "operator-secret",
    "ACCEL_SESSION_SECRET": "session-secret",
    "accel_smtp_password": "lower-case-is-read-too",
}


def parent_environment(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy.example:3128",
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    } | SECRETS


def test_the_examples_in_the_docstrings_are_true() -> None:
    result = doctest.testmod(prefect_server)
    assert result.attempted > 0 and result.failed == 0


def test_the_servers_environment_keeps_no_accel_variable(tmp_path: Path) -> None:
    parent = parent_environment(tmp_path)
    env = server_environment(parent)
    assert not [name for name in env if name.upper().startswith("ACCEL_")]
    assert not set(SECRETS.values()) & set(env.values())
    for kept in ("PATH", "HOME", "LANG", "HTTPS_PROXY", "PREFECT_HOME", "PREFECT_LOGGING_LEVEL"):
        assert env[kept] == parent[kept]
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and env["DO_NOT_TRACK"] == "1"
    assert parent == parent_environment(tmp_path)  # the caller's mapping is left as it was


@pytest.fixture
def spawned(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The real `prefect server start` child, stopped (its whole session) right after."""
    (tmp_path / "prefect-home").mkdir()
    process = start_server_process(
        free_port(), log=tmp_path / "server.log", parent_environment=parent_environment(tmp_path)
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):  # its own session, so its own group
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/<pid>/environ")
def test_the_spawned_server_has_none_of_the_secrets(
    spawned: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    # Popen returns once the child has exec'd: /proc shows the environment it started with.
    raw = Path(f"/proc/{spawned.pid}/environ").read_bytes()
    env = dict(entry.decode().split("=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    assert "prefect" in Path(f"/proc/{spawned.pid}/cmdline").read_bytes().decode()
    assert not [name for name in env if name.upper().startswith("ACCEL_")]
    for secret in SECRETS.values():
        assert secret.encode() not in raw
    assert env["PREFECT_HOME"] == str(tmp_path / "prefect-home")
    assert env["PREFECT_UI_ENABLED"] == "true"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and env["DO_NOT_TRACK"] == "1"


def test_prefect_sees_its_telemetry_off(tmp_path: Path) -> None:
    """What `accel serve` does before importing Prefect: in a fresh interpreter, both of
    Prefect's own switches read off (the server's heartbeat and the SDK's events)."""
    script = (
        "import os\n"
        "from accel.prefect_server import prefect_telemetry_off\n"
        "prefect_telemetry_off(os.environ)\n"
        "from prefect._internal.analytics import is_telemetry_enabled\n"
        "from prefect.settings import get_current_settings\n"
        "print(get_current_settings().server.analytics_enabled, is_telemetry_enabled())\n"
    )
    environment = {k: v for k, v in os.environ.items() if k not in prefect_server.TELEMETRY_OFF}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=environment | {"PREFECT_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == ["False", "False"], done.stderr
