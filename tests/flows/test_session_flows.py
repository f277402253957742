"""`accel session` writes the rows the reschedule_session and cancel_session flows write, and
the flows never retry what cannot pass (an unknown pattern, a move into the past)."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.states import Failed
from sqlmodel import SQLModel
from typer.testing import CliRunner

from accel.database import make_engine
from accel.session_overrides import NoSuchSessionError, RefusedMoveError
from cli.main import app
from flows.change_sessions import cancel_session, reschedule_session
from flows.dispatch_messages import dispatch_messages
from flows.sync_cohort import sync_cohort
from models.problems import InvalidInputError
from tasks.cohort_tasks import retry_only_transient

COHORT = "tests/data/cohorts/small.yaml"
MAY = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
MASTERCLASS = "test-small/masterclass/03"
# Three weeks before masterclass/03 (2024-09-10 16:00 UTC): its invitations have gone out.
THEN = dt.datetime(2024, 8, 21, 16, 0, tzinfo=dt.UTC)
runner = CliRunner()


def tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, ids and times included, sorted."""
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = {
            name: sorted(tuple(map(repr, row)) for row in connection.execute(sa.select(table)))
            for name, table in SQLModel.metadata.tables.items()
        }
    engine.dispose()
    return rows


def copy_database(source: Path, target: Path) -> None:
    """The same rows in another file (the backup API reads through the WAL)."""
    origin, copy = sqlite3.connect(source), sqlite3.connect(target)
    with copy:
        origin.backup(copy)
    origin.close()
    copy.close()


def cli(database: Path, *args: str) -> Any:
    result = runner.invoke(
        app,
        [*args, "--cohort", COHORT, "--now", THEN.isoformat()],
        env={"ACCEL_DATABASE_URL": f"sqlite:///{database}"},
    )
    assert result.exit_code == 0, result.output
    return result


def test_the_cli_writes_exactly_what_the_flows_write(engine_env: Path) -> None:
    flow_db, cli_db = engine_env / "accel.db", engine_env / "cli.db"
    sync_cohort(cohort_file=COHORT, now=MAY)
    # Invitations sent, so a move is an update. One pass jumps from May to THEN: the sessions
    # that started meanwhile are stale on purpose, so the stale brake is told to go ahead.
    asyncio.run(dispatch_messages(now=THEN, cancel_stale=True))
    copy_database(flow_db, cli_db)
    assert tables(cli_db) == tables(flow_db)

    cli(cli_db, "session", "move", MASTERCLASS, "--shift", "PT90M", "--reason", "room")
    moved = reschedule_session(
        session=MASTERCLASS, shift_minutes=90, cohort_file=COHORT, now=THEN, reason="room"
    )
    assert moved["updates"] == 12
    assert moved["messages"]["queued"]["update"] == {"messages": 12, "recipients": 12}
    assert tables(cli_db) == tables(flow_db)

    cli(cli_db, "session", "cancel", "test-small/coaching/*/05")
    cancel_session(session="test-small/coaching/*/05", cohort_file=COHORT, now=THEN)
    after = tables(flow_db)
    assert tables(cli_db) == after
    assert len(after["session_override"]) == 4


def _task_runs(flow_run_id: UUID) -> list[Any]:
    with get_client(sync_client=True) as client:
        return list(
            client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
        )


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (
            lambda: cancel_session(
                session="test-small/nothing/*", cohort_file=COHORT, now=MAY, return_state=True
            ),
            NoSuchSessionError,
        ),
        (
            lambda: reschedule_session(
                session=MASTERCLASS,
                starts_at=dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC),
                cohort_file=COHORT,
                now=MAY,
                return_state=True,
            ),
            RefusedMoveError,
        ),
    ],
)
def test_a_permanent_error_fails_the_flow_at_once(
    engine_env: Path, call: Any, error: type[Exception]
) -> None:
    """One task run, no retry (before: two retries, 5 s and 30 s apart), nothing written."""
    sync_cohort(cohort_file=COHORT, now=MAY)
    before = tables(engine_env / "accel.db")
    state = call()
    assert state.is_failed()
    with pytest.raises(error):
        state.result()
    [task_run] = _task_runs(state.state_details.flow_run_id)
    assert task_run.run_count == 1 and task_run.state.is_failed()
    assert tables(engine_env / "accel.db") == before
    assert sync_cohort(cohort_file=COHORT, now=MAY)["sessions"] == 0  # the cohort is sound


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (sa.exc.OperationalError("UPDATE", {}, Exception("database is locked")), True),
        (sa.exc.InterfaceError("SELECT 1", {}, Exception("connection closed")), True),
        (ConnectionResetError("reset by peer"), True),
        (TimeoutError("timed out"), True),
        (NoSuchSessionError("no session matches"), False),
        (RefusedMoveError("into the past"), False),
        (InvalidInputError([]), False),
        (OverflowError("date value out of range"), False),
        (sa.exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")), False),
        (KeyError("bug"), False),
    ],
)
def test_only_transient_errors_are_retried(error: Exception, retried: bool) -> None:
    state: Any = Failed(data=error)
    assert retry_only_transient(None, None, state) is retried  # type: ignore[arg-type]
