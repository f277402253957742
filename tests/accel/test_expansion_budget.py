"""Issue 16, item 3: the expansion budget is counted from the files and refuses before expanding.

The 60-city file with 24 daily series is in tests/data/bad/ (expansion-over-budget). Here: the
shipped and a generated 1,000-city cohort pass, the count is an upper bound of what `apply`
really queues, and a 1 MB cohort of 2,178 cities sharing one coach is refused with the
numbers, exit 2 and an unchanged database (bench/bench_budget.py measures how fast).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from accel.inputs import load_inputs
from calendars.budget import MAX_OUTBOX_ROWS, MAX_SESSIONS_PER_COACH, expansion_cost
from cli.main import app
from models.file_loading import load_cohort
from models.outbox import OUTBOX
from models.tables import SESSION
from models.yaml_source import MAX_FILE_BYTES
from tasks.operations import apply_cohort
from tests.conftest import REPO, SHIPPED_COHORT, SMALL_COHORT, dump_database

_SPEC = importlib.util.spec_from_file_location("generated", REPO / "bench" / "generated_cohort.py")
assert _SPEC is not None and _SPEC.loader is not None
_GENERATED = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_GENERATED)
generated_cohort = _GENERATED.generated_cohort  # bench/ is not a package of the engine
one_coach_cohort = _GENERATED.one_coach_cohort

runner = CliRunner()


def test_the_shipped_and_a_generated_thousand_city_cohort_are_within_budget() -> None:
    inputs = load_inputs(SHIPPED_COHORT)  # would raise if refused
    cost = expansion_cost(inputs.program, load_cohort(generated_cohort(1000).encode(), "gen"))
    assert cost.outbox_rows <= MAX_OUTBOX_ROWS
    assert cost.coach_sessions <= MAX_SESSIONS_PER_COACH
    assert cost.sessions >= 17_266  # what bench/bench_apply.py expands for 1,000 cities


def test_the_count_bounds_what_apply_queues(sqlite_engine: sa.Engine) -> None:
    inputs = load_inputs(SMALL_COHORT)
    cost = expansion_cost(inputs.program, inputs.cohort)
    apply_cohort(sqlite_engine, inputs, now=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    with sqlite_engine.connect() as connection:
        sessions = connection.scalar(sa.select(sa.func.count()).select_from(SESSION))
        rows = connection.scalar(sa.select(sa.func.count()).select_from(OUTBOX))
    assert sessions is not None and rows is not None
    assert sessions <= cost.sessions <= sessions * 1.25
    assert rows <= cost.outbox_rows


def test_a_megabyte_of_cities_sharing_one_coach_is_refused_with_the_numbers(
    tmp_path: Path, sqlite_url: str, sqlite_engine: sa.Engine
) -> None:
    path = tmp_path / "cohorts" / "one-coach.yaml"
    path.parent.mkdir()
    path.write_text(one_coach_cohort(2178))
    assert 900_000 < path.stat().st_size <= MAX_FILE_BYTES
    before = dump_database(sqlite_engine)
    env = {"ACCEL_DATABASE_URL": sqlite_url}
    for command in (["validate"], ["apply", "--now", "2024-05-01"]):
        result = runner.invoke(app, [*command, "--cohort", str(path)], env=env)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        lines = result.stderr.splitlines()
        assert lines[-1] == "2 error(s): nothing was changed."
        assert re.search(r"cities: .* outbox rows; the budget is 300,000", lines[0]), lines
        assert re.search(r"coaches\[0\]: coach ana would have [\d,]+ sessions", lines[1])
    assert dump_database(sqlite_engine) == before
