"""The rehearsal clock: the latest moment wins, ending it forgets it, reading it writes nothing.

On SQLite and on PostgreSQL (a fresh schema; skipped, saying so, without ACCEL_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from accel.database import create_schema, make_engine
from accel.migrations import upgrade_schema
from accel.rehearsal import (
    RehearsalClockError,
    end_rehearsal,
    record_rehearsal,
    refuse_real_clock,
    rehearsal_mark,
    stored_rehearsal,
)
from calendars.timeline_types import LoadedInputs
from tasks.simulation import simulate

MAY = dt.datetime(2024, 5, 1, 13, tzinfo=dt.UTC)
JUNE = dt.datetime(2024, 6, 1, 13, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    name = "postgres_url" if request.param == "postgresql" else "sqlite_url"
    value: str = request.getfixturevalue(name)
    return value


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    engine = make_engine(url)
    create_schema(engine)
    yield engine
    engine.dispose()


def record(engine: sa.Engine, moment: dt.datetime, by: str) -> None:
    with engine.begin() as connection:
        record_rehearsal(connection, moment=moment, set_by=by)


def test_the_latest_moment_is_kept_and_ending_forgets_it(engine: sa.Engine, url: str) -> None:
    assert stored_rehearsal(url) is None
    record(engine, MAY, "accel apply --now")
    record(engine, JUNE, "accel dispatch --now")
    record(engine, MAY, "accel check-deliverables --now")  # going back does not move it back
    mark = stored_rehearsal(url)
    assert mark is not None
    assert (mark.reached_at, mark.set_by) == (JUNE, "accel dispatch --now")
    with engine.connect() as connection, pytest.raises(RehearsalClockError) as refused:
        refuse_real_clock(connection, who="accel dispatch")
    line = str(refused.value)
    assert "\n" not in line
    assert line.startswith("accel dispatch: refused at the real clock: ")
    assert "reached 2024-06-01T13:00:00Z (by accel dispatch --now)" in line
    assert "--now 2024-06-01T13:00:00Z" in line and "accel db end-rehearsal" in line

    with engine.begin() as connection:
        ended = end_rehearsal(connection)
    assert ended is not None and ended.reached_at == JUNE
    with engine.begin() as connection:
        assert end_rehearsal(connection) is None  # idempotent
        assert rehearsal_mark(connection) is None
    assert stored_rehearsal(url) is None


def test_reading_creates_no_file_and_accepts_an_older_schema(tmp_path: Path) -> None:
    missing = tmp_path / "never.db"
    assert stored_rehearsal(f"sqlite:///{missing}") is None
    assert not missing.exists()
    older = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_schema(older, "0002")  # before the rehearsal clock existed
    assert stored_rehearsal(f"sqlite:///{tmp_path / 'old.db'}") is None
    older.dispose()


def test_a_simulation_leaves_a_rehearsal_database(tmp_path: Path, small: LoadedInputs) -> None:
    until = dt.datetime(2024, 5, 3, tzinfo=dt.UTC)
    simulate(small, tmp_path, start=MAY, until=until)
    mark = stored_rehearsal(f"sqlite:///{tmp_path / 'simulation.db'}")
    assert mark is not None and mark.set_by == "accel simulate"
    assert MAY < mark.reached_at <= until
