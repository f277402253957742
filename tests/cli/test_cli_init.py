"""`accel init DIR`: an editable copy of the shipped files that validates where it was written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def test_init_writes_a_starting_set_that_validates_from_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ops"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    names = sorted(p.relative_to(target).as_posix() for p in target.rglob("*.yaml"))
    assert "programs/cda-accelerator.yaml" in names
    assert {"cohorts/cda-2024.yaml", "cohorts/cda-2025.yaml"} <= set(names)
    assert "scenarios/cda-2024-rehearsal.yaml" in names

    # An edit in the copy is what validate reads: the program beside the cohort's folder.
    program = target / "programs" / "cda-accelerator.yaml"
    program.write_text(program.read_text(encoding="utf-8") + "\nnot_a_key: 1\n", encoding="utf-8")
    monkeypatch.chdir(target)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2
    assert f"programs{os.sep}cda-accelerator.yaml: not_a_key: unknown key" in result.output


def test_init_keeps_existing_files_and_writes_nothing(tmp_path: Path) -> None:
    cohort = tmp_path / "cohorts" / "cda-2024.yaml"
    cohort.parent.mkdir(parents=True)
    cohort.write_text("# mine\n", encoding="utf-8")
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert "cda-2024.yaml: already exists (--force overwrites it)" in result.output
    assert cohort.read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "programs").exists()

    result = runner.invoke(app, ["init", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output
    assert cohort.read_text(encoding="utf-8").startswith("# mine") is False
