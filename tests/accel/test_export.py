"""`accel export`: every feed written from the database as .ics files, at `--now`."""

from __future__ import annotations

from pathlib import Path

import icalendar
import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()
NOW = "2024-05-01T00:00Z"


def _uids(path: Path) -> set[str]:
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    return {str(e["UID"]) for e in calendar.events}


def _statuses(path: Path) -> dict[str, str]:
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    return {str(e["UID"]): str(e["STATUS"]) for e in calendar.events}


@pytest.fixture
def database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ACCEL_DATABASE_URL", sqlite_url)
    return sqlite_url


def _apply(cohort: Path, now: str = NOW) -> None:
    result = runner.invoke(app, ["apply", "--cohort", str(cohort), "--now", now])
    assert result.exit_code == 0, result.output


def _export(cohort: Path, out: Path, now: str) -> None:
    args = ["export", "--cohort", str(cohort), "--out", str(out), "--now", now]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output


def test_export_refuses_a_cohort_never_applied(database: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["export", "--cohort", "tests/data/cohorts/small.yaml", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "was never applied" in result.stderr and "accel apply" in result.stderr
    assert not (tmp_path / "calendars").exists()


def test_export_writes_every_feed(database: str, workspace: Path, tmp_path: Path) -> None:
    cohort = workspace / "cohorts" / "small.yaml"
    _apply(cohort)
    _export(cohort, tmp_path / "out", NOW)
    root = tmp_path / "out" / "calendars"
    assert len(_uids(root / "cohort.ics")) == 64
    assert sorted(p.name for p in (root / "cities").iterdir()) == [
        "asuncion.ics",
        "mexico-city.ics",
        "santiago.ics",
    ]
    people = sorted(p.name for p in (root / "people").iterdir())
    assert len(people) == 15 and "t.herrera@santiago.example.org.ics" in people
    tomas = _uids(root / "people" / "t.herrera@santiago.example.org.ics")
    santiago = _uids(root / "cities" / "santiago.ics")
    assert len(tomas) == 31 and tomas <= santiago <= _uids(root / "cohort.ics")
    assert not [uid for uid in santiago if "asuncion" in uid or "mexico-city" in uid]
    for path in root.rglob("*.ics"):
        assert b"ATTENDEE" not in path.read_bytes() and b"METHOD" not in path.read_bytes()
    before = {p: p.read_bytes() for p in root.rglob("*.ics")}
    _export(cohort, tmp_path / "out", NOW)
    assert {p: p.read_bytes() for p in root.rglob("*.ics")} == before


def test_export_respects_now_for_past_cancellations(
    database: str, workspace: Path, tmp_path: Path
) -> None:
    cohort = workspace / "cohorts" / "small.yaml"
    _apply(cohort)
    # A removed team member: their invitations are cancelled, their feed shows it.
    text = cohort.read_text()
    cohort.write_text(text.replace("Ignacio Vera, email: i.vera@", "Inés Vidal, email: i.vidal@"))
    _apply(cohort, "2024-05-02T00:00Z")
    _export(cohort, tmp_path / "early", "2024-05-02T00:00Z")
    people = tmp_path / "early" / "calendars" / "people"
    ignacio = _statuses(people / "i.vera@santiago.example.org.ics")
    assert len(ignacio) == 31 and set(ignacio.values()) == {"CANCELLED"}
    assert set(_statuses(people / "i.vidal@santiago.example.org.ics").values()) == {"CONFIRMED"}
    santiago = _statuses(tmp_path / "early" / "calendars" / "cities" / "santiago.ics")
    assert set(santiago.values()) == {"CONFIRMED"}  # Inés took his place in every session
    # Once the program is over, the cancellations are gone; confirmed sessions stay as history.
    _export(cohort, tmp_path / "late", "2025-06-01T00:00Z")
    people = tmp_path / "late" / "calendars" / "people"
    assert _statuses(people / "i.vera@santiago.example.org.ics") == {}
    assert _statuses(tmp_path / "late" / "calendars" / "cities" / "santiago.ics") == santiago
