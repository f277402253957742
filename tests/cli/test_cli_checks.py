"""`accel check-deliverables` and `accel notify-decisions` queue what the daily flows queue.

A real SQLite file: after `apply`, the command queues exactly what `check_deliverables` /
`notify_decision_points` (the functions the flows' tasks call) queue on a copy of the database,
once however often it runs.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from accel.database import make_engine
from accel.inputs import load_inputs
from cli.main import app
from mail.notices import check_deliverables, notify_decision_points
from models.outbox import OUTBOX

APPLIED = "2024-05-01T00:00Z"
# strategy-outline is due 2024-09-18 20:00 UTC; the mayor's escalation comes 8 days later.
MAYOR_ESCALATED = dt.datetime(2024, 9, 27, 8, 0, tzinfo=dt.UTC)
# Santiago's `direction` decision point: the mayor is told at 2024-09-23 13:00 UTC.
DIRECTION = "test-small/decision/santiago/direction"
DIRECTION_NOTIFIED = dt.datetime(2024, 9, 23, 14, 0, tzinfo=dt.UTC)
IMPOSSIBLE_SQLITE = "sqlite:////nonexistent-dir-7c2e/x.db"
COMMANDS = ["check-deliverables", "notify-decisions"]
runner = CliRunner()


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def cohort(workspace: Path) -> Path:
    return workspace / "cohorts" / "small.yaml"


@pytest.fixture
def invoke(sqlite_url: str) -> Callable[..., Any]:
    def run(*args: str) -> Any:
        return runner.invoke(app, list(args), env={"ACCEL_DATABASE_URL": sqlite_url})

    return run


@pytest.fixture
def applied(invoke: Callable[..., Any], cohort: Path) -> Path:
    result = invoke("apply", "--cohort", str(cohort), "--now", APPLIED)
    assert result.exit_code == 0, result.output
    return cohort


def _copy(sqlite_url: str, tmp_path: Path) -> sa.Engine:
    """Another database with the same rows (the backup API reads through the WAL)."""
    copy = tmp_path / "copy.db"
    source = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    target = sqlite3.connect(copy)
    with target:
        source.backup(target)
    source.close()
    target.close()
    return make_engine(f"sqlite:///{copy}")


def _outbox(engine: sa.Engine) -> list[tuple[Any, ...]]:
    columns = "idempotency_key kind email city_id subject_key send_at status message_id created_at"
    with engine.connect() as connection:
        rows = connection.execute(sa.select(*(OUTBOX.c[c] for c in columns.split())))
        return sorted(tuple(row) for row in rows)


@pytest.mark.parametrize(
    ("command", "queue", "moment"),
    [
        ("check-deliverables", check_deliverables, MAYOR_ESCALATED),
        ("notify-decisions", notify_decision_points, DIRECTION_NOTIFIED),
    ],
)
def test_queues_what_the_flow_task_queues_once(
    command: str,
    queue: Any,
    moment: dt.datetime,
    applied: Path,
    invoke: Callable[..., Any],
    sqlite_url: str,
    tmp_path: Path,
) -> None:
    twin = _copy(sqlite_url, tmp_path)
    with twin.begin() as connection:
        expected = queue(connection, inputs=load_inputs(applied), now=moment)
    assert expected

    first = invoke(command, "--cohort", str(applied), "--now", _iso(moment), "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == dict(expected)
    engine = make_engine(sqlite_url)
    assert _outbox(engine) == _outbox(twin)

    again = invoke(command, "--cohort", str(applied), "--now", _iso(moment))
    assert again.exit_code == 0, again.output
    assert again.stdout == f"test-small: nothing new to queue at {moment:%Y-%m-%d %H:%M} UTC.\n"
    assert _outbox(engine) == _outbox(twin)
    engine.dispose()
    twin.dispose()


def test_check_deliverables_escalates_an_overdue_deliverable_to_the_mayors(
    applied: Path, invoke: Callable[..., Any], sqlite_url: str
) -> None:
    result = invoke("check-deliverables", "--cohort", str(applied), "--now", _iso(MAYOR_ESCALATED))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "test-small: queued at 2024-09-27 08:00 UTC: 3 overdue_escalation_mayor; "
        "`accel dispatch` sends them.\n"
    )
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        query = sa.select(OUTBOX).where(OUTBOX.c.kind == "overdue_escalation_mayor")
        rows = list(connection.execute(query))
    engine.dispose()
    mayors = {"mayor@santiago.example.org", "mayor@asuncion.example.org", "mayor@cdmx.example.org"}
    assert {(r.email, r.subject_key.rsplit("/", 1)[1]) for r in rows} == {
        (mayor, "strategy-outline") for mayor in mayors
    }


def test_notify_decisions_emails_the_mayor_once(
    applied: Path, invoke: Callable[..., Any], sqlite_url: str
) -> None:
    before = invoke(
        "notify-decisions", "--cohort", str(applied), "--now", "2024-09-21T12:00Z", "--json"
    )
    assert before.exit_code == 0 and json.loads(before.stdout) == {}
    for hours in (0, 0, 6, 24):
        moment = DIRECTION_NOTIFIED + dt.timedelta(hours=hours)
        result = invoke("notify-decisions", "--cohort", str(applied), "--now", _iso(moment))
        assert result.exit_code == 0, result.output
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        rows = list(connection.execute(sa.select(OUTBOX).where(OUTBOX.c.kind == "decision_point")))
    engine.dispose()
    assert (
        Counter((r.email, r.subject_key) for r in rows)[("mayor@santiago.example.org", DIRECTION)]
        == 1
    )
    assert len(rows) == 3  # the three mayors, `direction` only


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_cohort_file_writes_nothing(
    command: str,
    applied: Path,
    invoke: Callable[..., Any],
    sqlite_url: str,
    database_dump: Any,
) -> None:
    engine = make_engine(sqlite_url)
    before = database_dump(engine)
    text = applied.read_text()
    applied.write_text(text.replace("mayor@santiago.example.org", "not-an-email", 1))
    result = invoke(command, "--cohort", str(applied), "--now", _iso(MAYOR_ESCALATED))
    assert result.exit_code == 2, result.output
    assert "cities[0].mayor.email" in result.stderr
    assert "nothing was changed" in result.stderr and result.stdout == ""
    assert database_dump(engine) == before
    engine.dispose()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_moment_without_offset_is_refused(
    command: str, applied: Path, invoke: Callable[..., Any]
) -> None:
    result = invoke(command, "--cohort", str(applied), "--now", "2024-09-27T08:00")
    assert result.exit_code == 2
    assert "has no offset" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_cohort_never_applied_says_so(
    command: str, cohort: Path, invoke: Callable[..., Any]
) -> None:
    result = invoke(command, "--cohort", str(cohort), "--now", _iso(MAYOR_ESCALATED))
    assert result.exit_code == 1, result.output
    assert "test-small: nothing stored yet; run `accel apply` first." in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unopenable_database_is_one_line_and_exit_3(command: str, cohort: Path) -> None:
    env = {"ACCEL_DATABASE_URL": IMPOSSIBLE_SQLITE}
    result = runner.invoke(app, [command, "--cohort", str(cohort), "--now", APPLIED], env=env)
    assert result.exit_code == 3, result.output
    problems = [line for line in result.stderr.splitlines() if " done in " not in line]
    assert problems == [
        f"accel: cannot open the database {IMPOSSIBLE_SQLITE}: unable to open database file"
    ]
