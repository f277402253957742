"""`accel plan` writes nothing: on a SQLite file that does not exist yet it plans against an
empty database and leaves no file (nor -wal/-shm) behind; its output is the one it gives on a
freshly created empty database."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from accel.database import is_missing_sqlite_file
from cli.main import app

NOW = "2024-05-01T13:00Z"
runner = CliRunner()


def _plan(database_url: str, cohort: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        ["plan", "--cohort", str(cohort), "--now", NOW, *extra],
        env={"ACCEL_DATABASE_URL": database_url},
    )
    return result.exit_code, result.stdout


def test_plan_on_a_missing_sqlite_file_creates_nothing(tmp_path: Path, workspace: Path) -> None:
    cohort = workspace / "cohorts" / "small.yaml"
    missing = tmp_path / "missing" / "accel.db"
    missing.parent.mkdir()
    for extra in ((), ("--json",)):
        code, printed = _plan(f"sqlite:///{missing}", cohort, *extra)
        assert code == 0, printed
        assert list(missing.parent.iterdir()) == []
    # The same output as against an empty database that exists (created by `db upgrade`).
    fresh = tmp_path / "fresh.db"
    upgrade = runner.invoke(
        app, ["db", "upgrade"], env={"ACCEL_DATABASE_URL": f"sqlite:///{fresh}"}
    )
    assert upgrade.exit_code == 0, upgrade.output
    for extra in ((), ("--json",)):
        assert _plan(f"sqlite:///{missing}", cohort, *extra) == _plan(
            f"sqlite:///{fresh}", cohort, *extra
        )
    assert '"changes": [' in _plan(f"sqlite:///{missing}", cohort, "--json")[1]


def test_plan_in_a_missing_folder_still_says_the_database_cannot_be_opened(
    tmp_path: Path, workspace: Path
) -> None:
    """As `apply` would: nothing can be created there, so planning for it is no help."""
    url = f"sqlite:///{tmp_path / 'no-such-folder' / 'accel.db'}"
    result = runner.invoke(
        app,
        ["plan", "--cohort", str(workspace / "cohorts" / "small.yaml"), "--now", NOW],
        env={"ACCEL_DATABASE_URL": url},
    )
    assert result.exit_code == 3
    assert "cannot open the database" in result.stderr


def test_only_a_sqlite_file_not_yet_created_counts_as_missing(tmp_path: Path) -> None:
    existing = tmp_path / "there.db"
    existing.write_bytes(b"")
    assert is_missing_sqlite_file(f"sqlite:///{tmp_path / 'new.db'}")
    assert not is_missing_sqlite_file(f"sqlite:///{existing}")
    assert not is_missing_sqlite_file(f"sqlite:///{tmp_path / 'no-folder' / 'new.db'}")
    assert not is_missing_sqlite_file("sqlite://")
    assert not is_missing_sqlite_file("sqlite:///:memory:")
    assert not is_missing_sqlite_file("postgresql+psycopg://u@127.0.0.1/x")
    assert not is_missing_sqlite_file("not a url")
