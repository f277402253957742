"""Secrets in the settings (SMTP password, database URL, operator password, session secret) are
never printed: not by the commands, not in their errors, not in the settings' repr.

The commands run as real processes, so whatever reaches the terminal (tracebacks included) is
what is checked.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from accel.settings import Settings

REPO = Path(__file__).resolve().parents[2]
SMALL_COHORT = REPO / "tests" / "data" / "cohorts" / "small.yaml"
ACCEL = Path(sys.executable).parent / "accel"
SMTP_PASSWORD = "smtp-Pa55-7f3c9e21"
DATABASE_PASSWORD = "db-Pa55-91ab2d44"
OPERATOR_PASSWORD = "op-Pa55-c0ffee77"
SESSION_SECRET = "session-5ecret-0b5e55ed"
SECRETS = (SMTP_PASSWORD, DATABASE_PASSWORD, OPERATOR_PASSWORD, SESSION_SECRET)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def secret_environment(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCEL_")}
    return env | {
        "ACCEL_DATABASE_URL": database_url,
        "ACCEL_SMTP_HOST": "127.0.0.1",
        "ACCEL_SMTP_PORT": str(closed_port()),
        "ACCEL_SMTP_USERNAME": "accel-operator",
        "ACCEL_SMTP_PASSWORD": SMTP_PASSWORD,
        # A login without TLS, allowed because the (closed) port is on this machine.
        "ACCEL_SMTP_ALLOW_PLAINTEXT_AUTH": "true",
        "ACCEL_SMTP_TIMEOUT_SECONDS": "5",
        "ACCEL_OPERATOR_USERNAME": "ops",
        "ACCEL_OPERATOR_PASSWORD": OPERATOR_PASSWORD,
        "ACCEL_SESSION_SECRET": SESSION_SECRET,
        "COLUMNS": "200",
    }


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ACCEL), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def assert_no_secret(result: subprocess.CompletedProcess[str]) -> None:
    for secret in SECRETS:
        assert secret not in result.stdout, f"{secret} on stdout of {result.args}"
        assert secret not in result.stderr, f"{secret} on stderr of {result.args}"


@pytest.fixture
def sqlite_with_password(tmp_path: Path) -> str:
    """A SQLite URL that carries a password (a URI parameter SQLite ignores), so it is used."""
    return f"sqlite:///file:{tmp_path / 'accel.db'}?uri=true&password={DATABASE_PASSWORD}"


def test_commands_never_print_a_secret(sqlite_with_password: str, tmp_path: Path) -> None:
    env = secret_environment(sqlite_with_password)
    cohort = ["--cohort", str(SMALL_COHORT)]
    steps = {
        "validate": ["validate", *cohort],
        "plan": ["plan", "--json", *cohort, "--now", "2024-05-01"],
        "apply": ["apply", *cohort, "--now", "2024-05-01"],
        "outbox": ["outbox"],
        "outbox json": ["outbox", "--json"],
        "dispatch": ["dispatch", "--now", "2024-05-01T12:00Z"],
    }
    results = {}
    for name, args in steps.items():
        result = run(args, env, tmp_path)
        assert_no_secret(result)
        # dispatch: exit 1, its SMTP server cannot be reached (nothing listens on its port)
        assert result.returncode == (1 if name == "dispatch" else 0), result.stderr
        results[name] = result
    # The settings were really used: the database holds the plan, the SMTP server was tried.
    assert (tmp_path / "accel.db").exists()
    assert '"changes": [' in results["plan"].stdout
    assert "pending:" in results["outbox"].stdout
    assert '"status": "pending"' in results["outbox json"].stdout
    dispatch = results["dispatch"]
    assert "SMTP 127.0.0.1:" in dispatch.stdout
    assert "cannot connect to the SMTP server" in dispatch.stderr


def test_a_database_that_cannot_be_reached_does_not_reveal_its_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://accel:{DATABASE_PASSWORD}@127.0.0.1:{closed_port()}/accel"
    result = run(
        ["plan", "--json", "--cohort", str(SMALL_COHORT), "--now", "2024-05-01"],
        secret_environment(url),
        tmp_path,
    )
    assert result.returncode != 0
    assert "127.0.0.1" in result.stderr  # the error is there, and says where
    assert_no_secret(result)


def test_the_settings_repr_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql+psycopg://accel:{DATABASE_PASSWORD}@db.example.org/accel"
    for name, value in secret_environment(url).items():
        if name.startswith("ACCEL_"):
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == SMTP_PASSWORD  # read, not lost
    assert DATABASE_PASSWORD in settings.database_url.get_secret_value()
    for shown in (repr(settings), str(settings), settings.model_dump_json(), repr(vars(settings))):
        for secret in SECRETS:
            assert secret not in shown
