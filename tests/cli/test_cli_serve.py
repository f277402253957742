"""Which cohorts `accel serve` serves (`--dry-run`: no Prefect server is started): those named
with --cohort, else every cohort applied in the database, found by the `cohort:` id of a file in
./cohorts/ (then the shipped ones); a cohort without exactly one file is exit 2, naming it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from accel.cohort_files import declared_cohort_id, find_cohort_files
from cli.main import app

APPLIED = "2024-05-01T13:00Z"
runner = CliRunner()


@pytest.fixture
def accel(sqlite_url: str) -> Callable[..., Any]:
    def run(*args: str) -> Any:
        return runner.invoke(app, list(args), env={"ACCEL_DATABASE_URL": sqlite_url})

    return run


@pytest.fixture
def small_applied(accel: Callable[..., Any], workspace: Path) -> Path:
    cohort = workspace / "cohorts" / "small.yaml"
    result = accel("apply", "--cohort", str(cohort), "--now", APPLIED)
    assert result.exit_code == 0, result.output
    return cohort


def _served(printed: str) -> list[str]:
    return re.findall(r"^  (\w+/[\w-]+) ", printed, re.M)


def test_an_applied_cohort_is_served_from_the_file_declaring_its_id(
    accel: Callable[..., Any], small_applied: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(small_applied.parent.parent)
    result = accel("serve", "--dry-run")
    assert result.exit_code == 0, result.output
    assert re.search(r"^  test-small  cohorts/small\.yaml$", result.stdout, re.M)
    assert _served(result.stdout)[:2] == [
        "dispatch_messages/dispatch-messages",
        "check_deliverables/check-deliverables-test-small",
    ]
    assert "warning" not in result.stderr


def test_an_applied_cohort_without_a_file_is_refused_by_name(
    accel: Callable[..., Any], small_applied: Path
) -> None:
    """Run in the repository: its cohorts/ holds cda-2024 and cda-2025, not test-small."""
    result = accel("serve", "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "accel serve: cohort test-small is applied in the database, but no file in cohorts or "
    )
    assert "name each cohort's file with --cohort" in result.stderr
    assert _served(result.stdout) == []


def test_two_files_claiming_one_cohort_are_refused(
    accel: Callable[..., Any], small_applied: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(small_applied, small_applied.with_name("small-copy.yaml"))
    monkeypatch.chdir(small_applied.parent.parent)
    result = accel("serve", "--dry-run")
    assert result.exit_code == 2
    assert (
        "cohort test-small: cohorts/small-copy.yaml, cohorts/small.yaml all say "
        "`cohort: test-small`" in result.stderr
    )


def test_a_cohort_named_twice_is_refused(accel: Callable[..., Any], small_applied: Path) -> None:
    copy = small_applied.with_name("again.yaml")
    shutil.copy(small_applied, copy)
    result = accel("serve", "--dry-run", "--cohort", str(small_applied), "--cohort", str(copy))
    assert result.exit_code == 2
    assert "cohort test-small is already served from" in result.stderr


def test_a_named_cohort_not_applied_or_edited_is_served_with_a_warning(
    accel: Callable[..., Any], small_applied: Path
) -> None:
    shipped = Path("cohorts/cda-2025.yaml")
    result = accel("serve", "--dry-run", "--cohort", str(shipped))
    assert result.exit_code == 0, result.output
    assert "cohort cda-2025 is not applied in this database yet" in result.stderr
    text = small_applied.read_text()
    start = text.index("  - id: asuncion")
    end = text.index("  - id:", start + 1)
    small_applied.write_text(text[:start] + text[end:])
    result = accel("serve", "--dry-run", "--cohort", str(small_applied))
    assert result.exit_code == 0, result.output
    assert "has other cities than the database holds" in result.stderr
    assert "only in the database: asuncion" in result.stderr


def test_an_invalid_named_file_is_its_problems_and_exit_2(
    accel: Callable[..., Any], workspace: Path
) -> None:
    bad = workspace / "cohorts" / "small.yaml"
    bad.write_text(bad.read_text().replace("timezone: America/Santiago", "timezone: Mars/Olympus"))
    result = accel("serve", "--dry-run", "--cohort", str(bad))
    assert result.exit_code == 2
    assert "unknown time zone 'Mars/Olympus'" in result.stderr


def test_with_nothing_applied_the_default_cohort_is_served_and_no_file_created(
    accel: Callable[..., Any], sqlite_url: str
) -> None:
    result = accel("serve", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Cohorts (none applied in the database yet: the default):" in result.stdout
    assert "sync_cohort/sync-cohort-cda-2024" in result.stdout
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_cohort_files_are_found_by_their_declared_id(tmp_path: Path) -> None:
    local, shipped = tmp_path / "local", tmp_path / "shipped"
    local.mkdir()
    shipped.mkdir()
    (local / "a.yaml").write_text("cohort: one\n")
    (local / "draft.yaml").write_text("cohort: [unfinished\n")  # not YAML: skipped, not an error
    (local / "alias.yaml").write_text("x: &a 1\ncohort: *a\n")  # unsafe YAML: skipped
    (shipped / "one.yaml").write_text("cohort: one\n")  # the local file comes first
    (shipped / "two.yaml").write_text("cohort: two\n")
    (shipped / "two-again.yaml").write_text("cohort: two\n")
    found = find_cohort_files(["one", "two", "three"], [local, shipped])
    assert found.found == {"one": local / "a.yaml"}
    assert found.ambiguous == {"two": [shipped / "two-again.yaml", shipped / "two.yaml"]}
    assert found.missing == ["three"]
    assert declared_cohort_id(local / "draft.yaml") is None
    assert declared_cohort_id(local / "alias.yaml") is None
    assert declared_cohort_id(tmp_path) is None
