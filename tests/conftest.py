"""Shared fixtures: paths to the shipped and test files, loaded inputs, real databases."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from accel.database import create_schema, make_engine
from accel.inputs import load_inputs
from calendars.timeline_types import LoadedInputs

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
SHIPPED_COHORT = REPO / "cohorts" / "cda-2024.yaml"
SHIPPED_PROGRAM = REPO / "programs" / "cda-accelerator.yaml"
SMALL_COHORT = DATA / "cohorts" / "small.yaml"
POSTGRES_ENV = "ACCEL_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True)
def _run_in_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths in messages are relative to the repository, as for an operator there."""
    monkeypatch.chdir(REPO)


@pytest.fixture(scope="session")
def shipped() -> LoadedInputs:
    return load_inputs(SHIPPED_COHORT)


@pytest.fixture(scope="session")
def small() -> LoadedInputs:
    return load_inputs(SMALL_COHORT)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the shipped program and the small cohort that a test may edit."""
    (tmp_path / "programs").mkdir()
    (tmp_path / "cohorts").mkdir()
    shutil.copy(SHIPPED_PROGRAM, tmp_path / "programs" / SHIPPED_PROGRAM.name)
    shutil.copy(SMALL_COHORT, tmp_path / "cohorts" / "small.yaml")
    return tmp_path


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'accel.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(sqlite_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema on the PostgreSQL server named by ACCEL_TEST_POSTGRES_URL."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(
            f"PostgreSQL not configured: set {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    schema = f"t_{secrets.token_hex(6)}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def database_dump() -> object:
    """`database_dump(engine)`: every row of every table, to prove nothing changed."""
    return dump_database


def dump_database(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted: to prove a failed command changed nothing."""
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as connection:
        return {
            name: sorted(tuple(map(str, row)) for row in connection.execute(sa.select(table)))
            for name, table in sorted(meta.tables.items())
        }


@pytest.fixture
def small_cohort_path() -> Path:
    return SMALL_COHORT
