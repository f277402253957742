"""The moment a command acts at is visible, and a finished program is not applied by accident.

An operator who types `accel apply` after the program ended would otherwise store every
session as past and invite nobody, with no way back by a later `apply --now`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from accel.database import make_engine
from accel.inputs import load_inputs
from cli.main import app
from tasks.operations import override_sessions

runner = CliRunner()
MASTERCLASS = "test-small/masterclass/03"


@pytest.fixture
def cohort(workspace: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ACCEL_DATABASE_URL", sqlite_url)
    return workspace / "cohorts" / "small.yaml"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def test_apply_at_the_real_clock_after_the_program_is_refused(
    cohort: Path, sqlite_url: str
) -> None:
    """The 2024 program has ended at any real clock this test runs at (the clock only moves
    forward), so `apply` without --now refuses and writes nothing."""
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    before = digest(database)
    result = runner.invoke(app, ["apply", "--cohort", str(cohort)])
    assert result.exit_code == 2, result.output
    [line] = [line for line in result.stderr.splitlines() if "every session" in line]
    assert "small.yaml: every session of test-small started by now (" in line
    assert "applying would invite nobody. Pass --now" in line
    assert digest(database) == before


def test_apply_with_an_explicit_late_now_warns_but_applies(cohort: Path) -> None:
    result = runner.invoke(app, ["apply", "--cohort", str(cohort), "--now", "2025-01-15T00:00Z"])
    assert result.exit_code == 0, result.output
    assert "applied at 2025-01-15T00:00:00Z" in result.stdout
    assert "new session(s) had already started at 2025-01-15T00:00:00Z" in result.stderr


def test_the_plan_names_its_moment_and_new_sessions_in_the_past(cohort: Path) -> None:
    early = runner.invoke(app, ["plan", "--cohort", str(cohort), "--now", "2024-05-01T00:00Z"])
    assert early.exit_code == 0, early.output
    assert "plan at 2024-05-01T00:00:00Z" in early.stdout
    assert "already started" not in early.stderr
    # Mid-program: the convening and the first sessions are in the past.
    middle = runner.invoke(app, ["plan", "--cohort", str(cohort), "--now", "2024-08-01T00:00Z"])
    assert middle.exit_code == 0, middle.output
    warning = [line for line in middle.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "nobody is invited to them" in warning[0], middle.stderr


def test_timeline_marks_the_operators_moves_and_cancellations(
    cohort: Path, sqlite_url: str
) -> None:
    now = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    applied = runner.invoke(app, ["apply", "--cohort", str(cohort), "--now", now.isoformat()])
    assert applied.exit_code == 0, applied.output
    before = runner.invoke(
        app, ["timeline", "--city", "santiago", "--cohort", str(cohort), "--json"]
    )
    items = {i["key"]: i for i in json.loads(before.stdout)["items"]}
    moved_from = dt.datetime.fromisoformat(items[MASTERCLASS]["local_start"])
    coaching = next(k for k in items if k.startswith("test-small/coaching/santiago/"))
    assert {i["status"] for i in items.values() if i["type"] == "session"} == {"scheduled"}

    engine = make_engine(sqlite_url)
    inputs = load_inputs(cohort)
    override_sessions(engine, inputs, pattern=MASTERCLASS, now=now, shift=dt.timedelta(days=1))
    override_sessions(engine, inputs, pattern=coaching, now=now, cancel=True)
    engine.dispose()

    after = runner.invoke(
        app, ["timeline", "--city", "santiago", "--cohort", str(cohort), "--json"]
    )
    assert after.exit_code == 0, after.output
    moved = {i["key"]: i for i in json.loads(after.stdout)["items"]}
    assert dt.datetime.fromisoformat(
        moved[MASTERCLASS]["local_start"]
    ) == moved_from + dt.timedelta(days=1)
    assert moved[MASTERCLASS]["status"] == "moved"
    assert dt.datetime.fromisoformat(moved[MASTERCLASS]["moved_from_local"]) == moved_from
    # A cancelled session stays in the timeline, at the files' time, marked.
    assert moved[coaching]["status"] == "cancelled"
    assert moved[coaching]["local_start"] == items[coaching]["local_start"]
    others = {k: i["status"] for k, i in moved.items() if i["type"] == "session"}
    assert {s for k, s in others.items() if k not in (MASTERCLASS, coaching)} == {"scheduled"}

    table = runner.invoke(
        app, ["timeline", "--city", "santiago", "--cohort", str(cohort)], env={"COLUMNS": "200"}
    )
    lines = table.stdout.splitlines()
    [masterclass] = [line for line in lines if "moved from" in line]
    assert f"moved from {moved_from:%a %Y-%m-%d %H:%M}" in masterclass
    assert len([line for line in lines if line.rstrip(" │").endswith("cancelled")]) == 1
    assert "Includes the operators' session moves and cancellations." in table.stdout
    with sa.create_engine(sqlite_url).connect() as connection:  # the timeline wrote nothing
        overrides = connection.execute(sa.text("SELECT count(*) FROM session_override")).scalar()
    assert overrides == 2
