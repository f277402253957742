"""What the CLI prints: text from the files verbatim (no rich markup, no :emoji:), long problem
lists cut short with a count of the rest."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from accel.inputs import load_inputs
from cli.main import app
from cli.options import MAX_PROBLEMS_SHOWN
from models.problems import InvalidInputError, Severity

MARKUP = ":smile: [bold]x[/bold] [red]x[/red]"
CITY_NAME = f"Team {MARKUP}"
runner = CliRunner()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def markup_cohort(workspace: Path) -> Path:
    """The small cohort, its first city named with rich markup and an emoji code."""
    cohort = workspace / "cohorts" / "small.yaml"
    _edit(cohort, "name: Santiago", f'name: "{CITY_NAME}"')
    _edit(cohort, "{name: Tomás Herrera,", f'{{name: "Tomás {MARKUP}",')
    return cohort


def test_validate_prints_a_problem_quoting_markup_verbatim(markup_cohort: Path) -> None:
    bad_zone = f"Mars/{MARKUP}"
    _edit(markup_cohort, "timezone: America/Asuncion", f'timezone: "{bad_zone}"')
    result = runner.invoke(app, ["validate", "--cohort", str(markup_cohort)])
    assert result.exit_code == 2, result.output
    [line] = [line for line in result.stderr.splitlines() if "cities[" in line]
    assert line.endswith(
        f"small.yaml: cities[1].timezone: unknown time zone '{bad_zone}' "
        "(use an IANA name such as America/Santiago) (line 24)"
    )
    assert "😄" not in result.output


def test_timeline_prints_the_city_name_verbatim(
    markup_cohort: Path, workspace: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCEL_DATABASE_URL", sqlite_url)
    program = workspace / "programs" / "cda-accelerator.yaml"
    title = "[b]x[/b] :ok:"  # short: the table's columns are narrow at 80 characters
    _edit(program, "{en: Masterclass, es: Clase magistral,", f'{{en: "{title}", es: "{title}",')
    result = runner.invoke(app, ["timeline", "--city", "santiago", "--cohort", str(markup_cohort)])
    assert result.exit_code == 0, result.output
    assert f"{CITY_NAME} (America/Santiago), all times local" in result.stdout
    assert result.stdout.count(title) == 5  # the five masterclasses
    assert "😄" not in result.output and "👌" not in result.output


def test_feeds_print_names_verbatim(
    markup_cohort: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCEL_DATABASE_URL", sqlite_url)
    args = ["--cohort", str(markup_cohort), "--now", "2024-05-01T00:00Z"]
    applied = runner.invoke(app, ["apply", *args])
    assert applied.exit_code == 0, applied.output
    result = runner.invoke(app, ["feeds", *args])
    assert result.exit_code == 0, result.output
    assert f"city santiago ({CITY_NAME})" in result.stdout
    assert f"person t.herrera@santiago.example.org (Tomás {MARKUP})" in result.stdout
    assert "😄" not in result.output


@pytest.fixture
def many_problems(workspace: Path) -> Path:
    """40 cities and 2 coaches whose working hours fit no session, under a strict program."""
    _edit(
        workspace / "programs" / "cda-accelerator.yaml",
        "working_hours_policy: warn",
        "working_hours_policy: error",
    )
    cohort = workspace / "cohorts" / "small.yaml"
    data = yaml.safe_load(cohort.read_text())
    never = {"start": "03:00", "end": "04:00", "days": ["SU"]}  # copied: YAML aliases are refused
    cities = []
    for n in range(40):
        city = copy.deepcopy(data["cities"][n % 3])
        city |= {"id": f"city-{n:02d}", "name": f"City {n}", "working_hours": copy.deepcopy(never)}
        city["mayor"]["email"] = f"mayor@city-{n:02d}.example.org"
        for i, member in enumerate(city["team"]):
            member["email"] = f"member-{i}@city-{n:02d}.example.org"
        cities.append(city)
    data["cities"] = cities
    for coach in data["coaches"]:
        coach["working_hours"] = copy.deepcopy(never)
    cohort.write_text(yaml.safe_dump(data, allow_unicode=True))
    return cohort


def test_a_long_problem_list_is_cut_short(many_problems: Path) -> None:
    with pytest.raises(InvalidInputError) as raised:
        load_inputs(many_problems)
    total = len(raised.value.problems)
    assert total > 2 * MAX_PROBLEMS_SHOWN
    result = runner.invoke(app, ["validate", "--cohort", str(many_problems)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    problems = [line for line in lines if ".yaml: " in line]
    assert len(problems) == MAX_PROBLEMS_SHOWN == 101
    assert problems == [str(p) for p in raised.value.problems[:MAX_PROBLEMS_SHOWN]]
    hidden = total - MAX_PROBLEMS_SHOWN
    assert f"... and {hidden:,} more problems ({total:,} in all)" in lines
    # Sessions placed regardless also land on holidays: warnings, not counted as errors.
    errors = sum(p.severity is Severity.ERROR for p in raised.value.problems)
    assert lines[-1] == f"{errors:,} error(s): nothing was changed."
