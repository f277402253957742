"""A bad ACCEL_ setting is one line on stderr and exit status 2; settings are read once per run."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from accel.settings import Settings, describe_invalid_settings
from cli.main import app

REPO = Path(__file__).resolve().parents[2]
SMALL_COHORT = REPO / "tests" / "data" / "cohorts" / "small.yaml"
BAD_PORT = (
    "accel: ACCEL_SMTP_PORT: Input should be a valid integer, unable to parse string as an "
    "integer (got 'notanumber')"
)
runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        ["dispatch", "--now", "2024-06-01T00:00Z"],
        ["outbox"],
        ["db", "current"],
        ["plan", "--cohort", str(SMALL_COHORT), "--now", "2024-06-01T00:00Z"],
        ["feeds", "rotate", "--all", "--cohort", str(SMALL_COHORT)],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_a_bad_setting_is_one_line_and_exit_2(
    args: list[str], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCEL_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ACCEL_SMTP_PORT", "notanumber")
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [BAD_PORT]
    assert result.stdout == ""


def test_every_bad_setting_is_named_on_the_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCEL_SMTP_PORT", "notanumber")
    monkeypatch.setenv("ACCEL_LOGIN_MAX_FAILURES", "0")
    result = runner.invoke(app, ["outbox"])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"{BAD_PORT}; ACCEL_LOGIN_MAX_FAILURES: Input should be greater than or equal to 1 "
        "(got '0')"
    ]


def test_settings_are_read_again_for_each_run(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One process (these tests) runs the app many times: nothing of a run's settings is kept."""
    monkeypatch.setenv("ACCEL_DATABASE_URL", sqlite_url)
    assert runner.invoke(app, ["db", "current"]).exit_code == 0
    monkeypatch.setenv("ACCEL_SMTP_PORT", "notanumber")
    assert runner.invoke(app, ["db", "current"]).exit_code == 2
    monkeypatch.delenv("ACCEL_SMTP_PORT")
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0, result.output
    assert "(head is" in result.stdout


def test_a_secret_setting_is_named_but_its_value_never_shown() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(operator_password=271828)
    described = describe_invalid_settings(caught.value)
    assert described == "ACCEL_OPERATOR_PASSWORD: Input should be a valid string"
    assert "271828" not in described
