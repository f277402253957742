"""Alembic migrations: from nothing (or from the previous revision, with data) to exactly the models.

Each test runs on SQLite and on PostgreSQL (a fresh schema; skipped, saying so, without
ACCEL_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel
from typer.testing import CliRunner

from accel.database import create_schema, make_engine
from accel.migrations import (
    SchemaError,
    alembic_config,
    current_revision,
    head_revision,
    script_directory,
    upgrade_schema,
)
from calendars.timeline_types import LoadedInputs
from cli.main import app
from tasks.operations import apply_cohort, plan_cohort

REPO = Path(__file__).resolve().parent.parent.parent
BEFORE_PROGRAM = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
FIRST = "0001"


def revision_tables(revision: str) -> set[str]:
    script = script_directory().get_revision(revision)
    assert script is not None
    return set(script.module.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    name = "postgres_url" if request.param == "postgresql" else "sqlite_url"
    value: str = request.getfixturevalue(name)
    return value


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    engine = make_engine(url)
    yield engine
    engine.dispose()


def differences(engine: sa.Engine) -> list[Any]:
    """What autogenerate would change to make the database match the models: nothing, we want."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def columns(engine: sa.Engine) -> dict[str, set[str]]:
    inspector = sa.inspect(engine)
    return {
        table: {c["name"] for c in inspector.get_columns(table)}
        for table in inspector.get_table_names()
    }


def test_upgrade_from_empty_gives_exactly_the_models(engine: sa.Engine) -> None:
    result = upgrade_schema(engine)
    assert (result.before, result.after) == (None, head_revision())
    assert differences(engine) == []
    found = columns(engine)
    assert found.pop("alembic_version") == {"version_num"}
    assert found == {
        name: {c.name for c in table.columns} for name, table in SQLModel.metadata.tables.items()
    }
    # Named indexes and constraints come out as the models name them (a later revision may
    # need to drop them by name).
    inspector = sa.inspect(engine)
    assert {i["name"] for i in inspector.get_indexes("feed_token")} >= {
        "ix_feed_token_cohort_id",
        "uq_feed_token_live_subject",
    }
    assert "uq_outbox_message_idempotency_key" in {
        u["name"] for u in inspector.get_unique_constraints("outbox_message")
    }


def test_create_schema_is_the_upgrade_and_a_second_call_does_nothing(engine: sa.Engine) -> None:
    create_schema(engine)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    again = upgrade_schema(engine)
    assert not again.changed and again.before == head_revision()
    assert differences(engine) == []


def copy_rows(source: sa.Engine, target: sa.Engine, tables: set[str]) -> dict[str, int]:
    """Every row of `tables` from `source` into `target` (as the target's schema reflects them)."""
    read, write = sa.MetaData(), sa.MetaData()
    read.reflect(source, only=sorted(tables))
    write.reflect(target, only=sorted(tables))
    counts: dict[str, int] = {}
    with source.connect() as reading, target.begin() as writing:
        for table in read.sorted_tables:  # parents first: invitations after sessions
            rows = [dict(row._mapping) for row in reading.execute(sa.select(table))]
            if rows:
                writing.execute(sa.insert(write.tables[table.name]), rows)
            counts[table.name] = len(rows)
    return counts


def row_counts(engine: sa.Engine, tables: set[str]) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()
            for table in sorted(tables)
        }


def test_upgrade_from_the_previous_revision_keeps_the_data(
    engine: sa.Engine, sqlite_url: str, tmp_path: Path, small: LoadedInputs
) -> None:
    """A database at 0001 holding an applied cohort gains the new tables and loses nothing."""
    # The data: the small cohort applied by today's code, on a separate database.
    source = make_engine(f"sqlite:///{tmp_path / 'source.db'}")
    create_schema(source)
    apply_cohort(source, small, now=BEFORE_PROGRAM)
    core = revision_tables(FIRST)

    old = upgrade_schema(engine, FIRST)
    assert old.after == FIRST
    assert set(columns(engine)) == core | {"alembic_version"}
    copied = copy_rows(source, engine, core)
    assert copied["session"] == 64 and copied["invitation"] > 0

    result = upgrade_schema(engine)
    assert (result.before, result.after) == (FIRST, head_revision())
    assert differences(engine) == []
    assert row_counts(engine, core) == copied
    # The upgraded database is the same cohort to the engine: nothing to re-apply.
    assert plan_cohort(engine, small, now=BEFORE_PROGRAM).is_empty
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM outbox_message")).scalar() == 0
    source.dispose()


def test_upgrade_from_0002_adds_an_empty_rehearsal_clock_and_keeps_the_data(
    engine: sa.Engine, tmp_path: Path, small: LoadedInputs
) -> None:
    """A database at 0002 (outbox and all) holds no recorded rehearsal after the upgrade."""
    source = make_engine(f"sqlite:///{tmp_path / 'source.db'}")
    create_schema(source)
    apply_cohort(source, small, now=BEFORE_PROGRAM)
    before = revision_tables(FIRST) | revision_tables("0002")
    assert upgrade_schema(engine, "0002").after == "0002"
    copied = copy_rows(source, engine, before)
    assert copied["outbox_message"] > 0

    assert upgrade_schema(engine).after == head_revision()
    assert differences(engine) == []
    assert row_counts(engine, before) == copied
    assert row_counts(engine, revision_tables("0003")) == {"rehearsal_clock": 0}
    source.dispose()


def test_downgrade_to_the_previous_revision_and_back(engine: sa.Engine) -> None:
    upgrade_schema(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), FIRST)
    assert set(columns(engine)) == revision_tables(FIRST) | {"alembic_version"}
    assert upgrade_schema(engine).after == head_revision()
    assert differences(engine) == []


def test_a_database_made_by_create_all_is_adopted(engine: sa.Engine) -> None:
    """Tables made before there were migrations: stamped, not created twice."""
    core = [SQLModel.metadata.tables[name] for name in revision_tables(FIRST)]
    SQLModel.metadata.create_all(engine, tables=core)  # as create_all did before the outbox
    result = upgrade_schema(engine)
    assert (result.adopted, result.after) == (FIRST, head_revision())
    assert differences(engine) == []


def test_unrecognisable_tables_are_refused(engine: sa.Engine) -> None:
    outbox = SQLModel.metadata.tables["outbox_message"]
    SQLModel.metadata.create_all(engine, tables=[outbox])  # 0002's table without 0001's
    with pytest.raises(SchemaError, match="outbox_message"):
        upgrade_schema(engine)


UPGRADE_ON_GO = """
import sys
from accel.database import make_engine
from accel.migrations import upgrade_schema
engine = make_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # the start line: every process is loaded before any begins
print(upgrade_schema(engine).changed, flush=True)
"""


def test_concurrent_upgrades_run_once(url: str, engine: sa.Engine) -> None:
    """Four processes released on an empty database at the same instant: one migrates."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE_ON_GO, url],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        results.append(stdout.strip())
    assert sorted(results) == ["False", "False", "False", "True"]
    assert differences(engine) == []


def test_accel_db_commands(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCEL_DATABASE_URL", url)
    runner = CliRunner()
    head = head_revision()
    assert "(none)" in runner.invoke(app, ["db", "current"]).output
    result = runner.invoke(app, ["db", "upgrade", "--revision", FIRST])
    assert result.exit_code == 0 and f"(empty) -> {FIRST}" in result.output
    assert f"head is {head}" in runner.invoke(app, ["db", "current"]).output
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0 and f"{FIRST} -> {head}" in result.output
    assert runner.invoke(app, ["db", "current"]).output.strip() == f"{head} (head)"
    assert "nothing to do" in runner.invoke(app, ["db", "upgrade"]).output
    unknown = runner.invoke(app, ["db", "upgrade", "--revision", "nope"])
    assert unknown.exit_code == 1 and "nope" in unknown.stderr


def test_plain_alembic_tool_reads_the_accel_database_url(sqlite_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCEL_")}
    env["ACCEL_DATABASE_URL"] = sqlite_url
    alembic = [sys.executable, "-m", "alembic", "-c", "migrations/alembic.ini"]
    done = subprocess.run(
        [*alembic, "upgrade", "head"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    check = subprocess.run([*alembic, "check"], cwd=REPO, env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
