"""`accel session move|cancel|restore`: a dry run shows who gets what and writes nothing; the
change itself writes exactly that; bad requests are one line, exit 2, the database unchanged."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel
from typer.testing import CliRunner

from accel.database import make_engine
from cli.main import app
from models.tables import OVERRIDE

NOW = "2024-05-01T13:00Z"
MASTERCLASS = "test-small/masterclass/03"
COACHING = "test-small/coaching/*/05"
REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
Invoke = Callable[..., Any]


@pytest.fixture
def invoke(sqlite_url: str) -> Invoke:
    def run(*args: str) -> Any:
        return runner.invoke(
            app, list(args), env={"ACCEL_DATABASE_URL": sqlite_url, "COLUMNS": "200"}
        )

    return run


@pytest.fixture
def cohort(workspace: Path, invoke: Invoke) -> str:
    path = str(workspace / "cohorts" / "small.yaml")
    applied = invoke("apply", "--cohort", path, "--now", NOW)
    assert applied.exit_code == 0, applied.output
    return path


def tables(url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, sorted: equal before and after means nothing was written."""
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = {
            name: sorted(tuple(map(repr, row)) for row in connection.execute(sa.select(table)))
            for name, table in SQLModel.metadata.tables.items()
        }
    engine.dispose()
    return rows


def problem_lines(stderr: str) -> list[str]:
    """What stderr says besides the progress lines ("...: done in 0.03 s")."""
    return [line for line in stderr.splitlines() if line.strip() and " done in " not in line]


@pytest.mark.parametrize(
    ("args", "summary", "session_line"),
    [
        (
            ["move", MASTERCLASS, "--shift", "P1D", "--reason", "speaker's flight"],
            "test-small: would move 1 session(s) at 2024-05-01T13:00:00Z:",
            f"  {MASTERCLASS}  Tue 2024-09-10 12:00 EDT → Wed 2024-09-11 12:00 EDT"
            "  (America/New_York)",
        ),
        (
            ["cancel", COACHING, "--reason", "coaches at a conference"],
            "test-small: would cancel 3 session(s) at 2024-05-01T13:00:00Z:",
            "  test-small/coaching/santiago/05  Tue 2024-09-17 11:00 -03 → cancelled"
            "  (America/Santiago)",
        ),
    ],
)
def test_a_dry_run_shows_who_gets_what_writes_nothing_and_the_change_does_exactly_that(
    invoke: Invoke,
    cohort: str,
    sqlite_url: str,
    args: list[str],
    summary: str,
    session_line: str,
) -> None:
    common = ["--cohort", cohort, "--now", NOW]
    before = tables(sqlite_url)
    text = invoke("session", *args, *common, "--dry-run")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == summary and session_line in lines
    assert any(line.startswith("messages ") and " people" in line for line in lines)
    assert lines[-1] == "Dry run: nothing was written."
    dry = invoke("session", *args, *common, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert tables(sqlite_url) == before

    real = invoke("session", *args, *common, "--json")
    assert real.exit_code == 0, real.output
    after = tables(sqlite_url)
    assert after != before
    planned, done = json.loads(dry.stdout), json.loads(real.stdout)
    assert planned.pop("dry_run") is True and done.pop("dry_run") is False
    assert planned == done
    assert done["messages"]["cancelled"] or done["messages"]["retimed"]
    # The same request again changes nothing (a shift counts from the files' time).
    again = invoke("session", *args, *common)
    assert again.exit_code == 0, again.output
    assert "nothing to change" in again.stdout
    assert tables(sqlite_url) == after


def test_restore_brings_the_files_back_after_a_dry_run(
    invoke: Invoke, cohort: str, sqlite_url: str
) -> None:
    common = ["--cohort", cohort, "--now", NOW]
    original = invoke("timeline", "--city", "santiago", "--cohort", cohort, "--json")
    moved = invoke("session", "move", MASTERCLASS, "--to", "2024-09-12T15:00-04:00", *common)
    assert moved.exit_code == 0, moved.output
    assert invoke("session", "cancel", COACHING, *common).exit_code == 0
    changed = invoke("timeline", "--city", "santiago", "--cohort", cohort, "--json")
    assert changed.stdout != original.stdout

    before = tables(sqlite_url)
    dry = invoke("session", "restore", "test-small/*", *common, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "test-small: would restore 4 session(s)" in dry.stdout
    assert f"  {MASTERCLASS}  Thu 2024-09-12 15:00 EDT → Tue 2024-09-10 12:00 EDT" in dry.stdout
    assert "  test-small/coaching/santiago/05  cancelled → Tue 2024-09-17 11:00 -03" in dry.stdout
    assert tables(sqlite_url) == before

    real = invoke("session", "restore", "test-small/*", *common, "--json")
    assert real.exit_code == 0, real.output
    queued = json.loads(real.stdout)["messages"]["queued"]
    # The masterclass's not yet sent invitations (all 12 people) and the 3 coaching sessions'
    # (4 attendees each); their cancelled reminders (one per attendee) come back.
    assert queued["invitation"] == {"messages": 24, "recipients": 12}
    assert queued["session_reminder"] == {"messages": 12, "recipients": 11}
    restored = invoke("timeline", "--city", "santiago", "--cohort", cohort, "--json")
    assert restored.stdout == original.stdout  # "restored" is just normal
    assert tables(sqlite_url)["session_override"] == []
    plan = invoke("plan", "--cohort", cohort, "--now", NOW)
    assert "nothing to change" in plan.stdout


def test_a_move_to_year_9999_is_refused_and_later_commands_work(
    invoke: Invoke, cohort: str, sqlite_url: str
) -> None:
    common = ["--cohort", cohort, "--now", NOW]
    before = tables(sqlite_url)
    result = invoke("session", "move", MASTERCLASS, "--to", "9999-12-31T23:00Z", *common)
    assert result.exit_code == 2, result.output
    assert problem_lines(result.stderr) == [
        f"accel session move: {MASTERCLASS}: the new start 9999-12-31T23:00:00Z is outside the "
        "dates a program may use (1970-01-01 to 2199-12-31); nothing was changed."
    ]
    assert tables(sqlite_url) == before
    for later in (
        ["plan", *common],
        ["apply", *common],
        ["timeline", "--city", "santiago", "--cohort", cohort],
        ["session", "move", MASTERCLASS, "--shift", "PT2H", *common],
    ):
        done = invoke(*later)
        assert done.exit_code == 0, (later, done.output)


def test_a_cohort_poisoned_by_an_older_version_is_healed_by_restore(
    invoke: Invoke, cohort: str, sqlite_url: str
) -> None:
    """A move to year 9999 stored before moves were bounded: plan, apply and timeline say so
    in one line naming `accel session restore`, which removes it."""
    engine = make_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(OVERRIDE).values(
                session_key=MASTERCLASS,
                cohort_id="test-small",
                starts_at=dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC),
                cancelled=False,
                changed_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
            )
        )
    engine.dispose()
    common = ["--cohort", cohort, "--now", NOW]
    timeline = ["timeline", "--city", "santiago", "--cohort", cohort]
    for command in (["plan", *common], ["apply", *common], timeline):
        refused = invoke(*command)
        assert refused.exit_code == 1, (command, refused.output)
        assert problem_lines(refused.stderr) == [
            f"accel: {MASTERCLASS}: an operator's move to 9999-12-31T23:00:00Z is stored, "
            "outside the dates a program may use (1970-01-01 to 2199-12-31); "
            f"`accel session restore {MASTERCLASS}` removes it"
        ]
    healed = invoke("session", "restore", MASTERCLASS, *common)
    assert healed.exit_code == 0, healed.output
    assert "nothing to change" in healed.stdout  # the move never reached the sessions
    assert invoke("plan", *common).exit_code == 0
    assert tables(sqlite_url)["session_override"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["move", "test-small/nothing/*", "--shift", "P1D"], "no session of test-small matches"),
        (["cancel", "test-small/nothing/*"], "no session of test-small matches"),
        (["restore", MASTERCLASS], "no operator's move or cancellation of test-small matches"),
        (["move", MASTERCLASS, "--shift", "-P26W"], "a session cannot be moved into the past"),
        (["move", MASTERCLASS, "--to", "2024-04-30T12:00Z"], "cannot be moved into the past"),
        (["move", MASTERCLASS], "give exactly one of --shift"),
        (["move", MASTERCLASS, "--shift", "P1D", "--to", "2024-09-12T15:00Z"], "exactly one of"),
        (["move", MASTERCLASS, "--to", "2024-09-12"], "give a date and time with its offset"),
        (["move", MASTERCLASS, "--to", "2024-09-12T15:00"], "give a date and time with its offset"),
        (["move", MASTERCLASS, "--shift", "P99W"], "P99W is longer than the limit of P52W"),
        (["move", MASTERCLASS, "--shift", "tomorrow"], "not a duration 'tomorrow'"),
        (["cancel", "x/\n\x1b[31m/y"], "'x/\\n\\x1b[31m/y' is not a session key or glob"),
        (["cancel", MASTERCLASS, "--reason", "a\nb"], "--reason: one line"),
        (["move", "test-small/masterclass/0[12]", "--shift", "P1D"], "already started"),
    ],
)
def test_a_bad_request_is_one_line_exit_2_and_changes_nothing(
    invoke: Invoke, cohort: str, sqlite_url: str, args: list[str], message: str
) -> None:
    # At this moment masterclasses 01 and 02 have started; 03 has not.
    now = "2024-08-20T12:00Z" if "0[12]" in args[1] else NOW
    before = tables(sqlite_url)
    result = invoke("session", *args, "--cohort", cohort, "--now", now)
    assert result.exit_code == 2, result.output
    [line] = problem_lines(result.stderr)
    assert line.startswith(f"accel session {args[0]}: ") and message in line, line
    assert line.endswith("; nothing was changed.")
    assert tables(sqlite_url) == before


def test_a_cohort_never_applied_is_exit_1(workspace: Path, sqlite_url: str) -> None:
    result = runner.invoke(
        app,
        ["session", "cancel", COACHING, "--cohort", str(workspace / "cohorts" / "small.yaml")],
        env={"ACCEL_DATABASE_URL": sqlite_url},
    )
    assert result.exit_code == 1, result.output
    assert "test-small: nothing stored yet; run `accel apply` first." in result.stderr


def test_the_session_commands_never_start_prefect(cohort: str, sqlite_url: str) -> None:
    """Run in a fresh interpreter: no Prefect module is even imported, so no server starts."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from cli.main import app\n"
        "result = CliRunner().invoke(app, sys.argv[1:])\n"
        "print(result.exit_code, sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))\n"
    )
    args = ["session", "move", MASTERCLASS, "--shift", "P1D", "--cohort", cohort, "--now", NOW]
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=os.environ | {"ACCEL_DATABASE_URL": sqlite_url},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "0 []", done.stderr
