"""A database that cannot be opened is one line on stderr and exit status 3, never a traceback.

The commands run as real processes, so whatever reaches the terminal is what is checked.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from accel.database import shown_url
from cli.main import app
from cli.options import EXIT_DATABASE_UNAVAILABLE

REPO = Path(__file__).resolve().parents[2]
SMALL_COHORT = REPO / "tests" / "data" / "cohorts" / "small.yaml"
ACCEL = Path(sys.executable).parent / "accel"
PASSWORD = "s3cret-9d1f"
IMPOSSIBLE_SQLITE = "sqlite:////nonexistent-dir-7c2e/x.db"
runner = CliRunner()


def refused_postgres_url() -> str:
    """A PostgreSQL URL, with a password, on a port of 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+psycopg://accel:{PASSWORD}@127.0.0.1:{port}/accel"


def run(args: list[str], database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCEL_")}
    env |= {"ACCEL_DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [str(ACCEL), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def problem_lines(stderr: str) -> list[str]:
    """stderr without the progress lines of steps that finished (`...: done in 0.31 s`)."""
    return [line for line in stderr.splitlines() if line.strip() and " done in " not in line]


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (["outbox"], "refused postgresql"),
        (["outbox"], "impossible sqlite"),
        (["apply", "--cohort", str(SMALL_COHORT), "--now", "2024-05-01"], "refused postgresql"),
        (["apply", "--cohort", str(SMALL_COHORT), "--now", "2024-05-01"], "impossible sqlite"),
    ],
    ids=lambda value: value if isinstance(value, str) else value[0],
)
def test_one_line_and_exit_3(args: list[str], kind: str, tmp_path: Path) -> None:
    url = refused_postgres_url() if kind == "refused postgresql" else IMPOSSIBLE_SQLITE
    result = run(args, url, tmp_path)
    assert result.returncode == EXIT_DATABASE_UNAVAILABLE == 3, result.stderr
    assert result.stdout == ""
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert PASSWORD not in output
    [line] = problem_lines(result.stderr)
    if kind == "refused postgresql":
        shown = url.replace(PASSWORD, "***")
        assert line.startswith(f"accel: cannot open the database {shown}: ")
        assert line.endswith("Connection refused")
    else:
        assert (
            line
            == f"accel: cannot open the database {IMPOSSIBLE_SQLITE}: unable to open database file"
        )


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--cohort", str(SMALL_COHORT), "--now", "2024-05-01"],
        ["deliverables", "--cohort", str(SMALL_COHORT), "--now", "2024-05-01"],
        ["deliverable", "submit", "santiago", "strategy-outline", "--cohort", str(SMALL_COHORT)],
        ["feeds", "--cohort", str(SMALL_COHORT)],
        ["feeds", "rotate", "--all", "--cohort", str(SMALL_COHORT)],
        ["export", "--out", "unused", "--cohort", str(SMALL_COHORT)],
        ["outbox", "retry", "1"],
        ["dispatch", "--now", "2024-05-01"],
        ["db", "current"],
        ["db", "upgrade"],
    ],
    ids=lambda args: " ".join(a for a in args[:2] if not a.startswith("-")),
)
def test_every_command_that_opens_the_database(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCEL_DATABASE_URL", IMPOSSIBLE_SQLITE)
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.output
    assert problem_lines(result.stderr) == [
        f"accel: cannot open the database {IMPOSSIBLE_SQLITE}: unable to open database file"
    ]


def test_web_too(tmp_path: Path) -> None:
    """`accel web` becomes `python -m web` (exec): a process of its own, never the test's."""
    result = run(["web", "--port", "0"], IMPOSSIBLE_SQLITE, tmp_path)
    assert result.returncode == 3, result.stderr
    assert problem_lines(result.stderr) == [
        f"accel: cannot open the database {IMPOSSIBLE_SQLITE}: unable to open database file"
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "the URL is not a database URL (e.g. sqlite:///accel.db"),
        (f"nosuchdb://u:{PASSWORD}@h/x", "nosuchdb://u:***@h/x: Can't load plugin"),
        (f"mysql+nosuchdriver://u:{PASSWORD}@h/x", "mysql+nosuchdriver://u:***@h/x: "),
        # A password with an unencoded ':' and '@': the port would be part of the password.
        (f"postgresql+psycopg://u:pa@ss:{PASSWORD}@127.0.0.1:5432/x", "must be percent-encoded"),
        # An unencoded '@' only: it parses, with the password's tail read as the host.
        (f"postgresql+psycopg://u:pa@{PASSWORD}@127.0.0.1/x", "write an '@' in the user name"),
    ],
)
def test_a_url_that_is_not_usable(url: str, reason: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCEL_DATABASE_URL", url)
    result = runner.invoke(app, ["outbox"])
    assert result.exit_code == 3, result.output
    [line] = problem_lines(result.stderr)
    assert line.startswith("accel: cannot open the database") and reason in line
    assert PASSWORD not in result.output


def test_shown_url_masks_passwords() -> None:
    url = f"postgresql+psycopg://accel:{PASSWORD}@db.example.org:5433/accel?password={PASSWORD}"
    assert shown_url(url) == "postgresql+psycopg://accel:***@db.example.org:5433/accel?password=***"
    assert shown_url("sqlite:///accel.db") == "sqlite:///accel.db"


@pytest.mark.postgres
def test_a_database_missing_on_a_real_server(tmp_path: Path) -> None:
    base = os.environ.get("ACCEL_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PostgreSQL not configured: set ACCEL_TEST_POSTGRES_URL")
    missing = make_url(base).set(database=f"missing_{secrets.token_hex(4)}", password=PASSWORD)
    url = missing.render_as_string(hide_password=False)
    result = run(["outbox"], url, tmp_path)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr
    [line] = problem_lines(result.stderr)
    assert line.startswith(f"accel: cannot open the database {shown_url(url)}: ")
    assert f'"{missing.database}" does not exist' in line
