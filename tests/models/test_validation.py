"""Every validation rule has a bad file; each gives `FILE: PLACE: message`, exit 2, no writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from accel.inputs import load_inputs
from cli.main import app
from models.file_loading import load_cohort, load_program
from models.problems import InvalidInputError, Severity

REPO = Path(__file__).resolve().parents[2]
BAD = REPO / "tests" / "data" / "bad"
runner = CliRunner()

# (file, the place named, words of the message)
CASES = [
    ("unknown-timezone", "cities[1].timezone", "unknown time zone 'America/Atlantis'"),
    ("bad-email", "cities[0].team[1].email", "not an email address"),
    (
        "duplicate-email",
        "cities[1].team[1].email",
        "duplicate email l.gimenez@asuncion.example.org",
    ),
    ("team-too-small", "cities[0].team", "has 2 people; it must have 3 to 4"),
    ("team-too-large", "cities[2].team", "has 5 people; it must have 3 to 4"),
    ("missing-mayor", "cities[1].mayor", "every city needs a mayor"),
    ("missing-coach", "cities[1].coach", "every city needs a coach"),
    ("unknown-coach", "cities[1].coach", "unknown coach 'zoe'"),
    ("unknown-role", "cities[1].team[2].role", "unknown role 'astrologer'"),
    ("mayor-substitute", "cities[2].mayor.substitute", "no substitutes are accepted"),
    ("duplicate-city-id", "cities[2].id", "duplicate city id 'santiago'"),
    ("coach-double-booked", "cities[2].coaching", "coach ana is double-booked"),
    (
        "outside-working-hours-strict",
        "cities[1].coaching",
        "outside the working hours of city asuncion",
    ),
]


@pytest.mark.parametrize(("name", "place", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_cohort_is_refused_with_file_and_place(name: str, place: str, message: str) -> None:
    result = runner.invoke(app, ["validate", "--cohort", str(BAD / f"{name}.yaml")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("tests/")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"tests/data/bad/{name}.yaml: {place}: ")
    assert message in lines[0]


def test_malformed_yaml_names_line_and_column() -> None:
    result = runner.invoke(app, ["validate", "--cohort", str(BAD / "malformed-yaml.yaml")])
    assert result.exit_code == 2
    assert "tests/data/bad/malformed-yaml.yaml: malformed YAML: line 9, column 1:" in result.stderr


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidInputError) as raised:
        load_inputs(BAD / "many-problems.yaml")
    places = sorted(p.place for p in raised.value.problems)
    assert places == ["cities[0].team[1].email", "cities[1].team[2].role", "cities[1].timezone"]
    assert all(p.line is not None for p in raised.value.problems)


def test_working_hours_are_a_warning_by_default(tmp_path: Path) -> None:
    cohort = REPO / "tests" / "data" / "cohorts" / "outside-working-hours.yaml"
    result = runner.invoke(app, ["validate", "--cohort", str(cohort)])
    assert result.exit_code == 0, result.stderr
    assert (
        "cities[1].coaching: warning: coaching on 2024-07-10 07:00 (America/Asuncion)"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("name", "place"), [(c[0], c[1]) for c in CASES] + [("malformed-yaml", "")]
)
def test_bad_file_leaves_the_database_as_it_was(
    name: str,
    place: str,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    database_dump: Callable[[sa.Engine], object],
) -> None:
    monkeypatch.setenv("ACCEL_DATABASE_URL", sqlite_url)
    first = runner.invoke(
        app, ["apply", "--cohort", "tests/data/cohorts/small.yaml", "--now", "2024-05-01"]
    )
    assert first.exit_code == 0, first.output
    engine = sa.create_engine(sqlite_url)
    before = database_dump(engine)
    result = runner.invoke(
        app, ["apply", "--cohort", str(BAD / f"{name}.yaml"), "--now", "2024-05-01"]
    )
    assert result.exit_code == 2
    assert "nothing was changed" in result.stderr
    assert database_dump(engine) == before


def test_shipped_files_are_valid_without_warnings() -> None:
    inputs = load_inputs(REPO / "cohorts" / "cda-2024.yaml")
    assert inputs.warnings == []
    assert len(inputs.cohort.cities) >= 15
    assert len({c.timezone for c in inputs.cohort.cities}) >= 8


YAML_ATTACKS = {
    "alias": b"cohort: &a x\nprogram: *a\n",
    "python tag": b"cohort: !!python/object/apply:os.system ['true']\n",
    "duplicate key": b"cohort: a\ncohort: b\n",
    "not a mapping": b"- just\n- a list\n",
    "not utf-8": b"cohort: \xff\xfe\n",
    "empty": b"",
}


@pytest.mark.parametrize("raw", YAML_ATTACKS.values(), ids=YAML_ATTACKS.keys())
def test_unsafe_or_broken_yaml_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidInputError) as raised:
        load_cohort(raw, "cohorts/x.yaml")
    assert all(str(p).startswith("cohorts/x.yaml:") for p in raised.value.problems)


def test_oversized_file_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidInputError, match="the limit is"):
        load_cohort(b"cohort: x\n" + b"#" * 2_000_000, "cohorts/big.yaml")


def test_program_rules_that_span_the_file() -> None:
    raw = (REPO / "programs" / "cda-accelerator.yaml").read_bytes()
    broken = raw.replace(b"decision_point: direction", b"decision_point: nowhere").replace(
        b"due: convening+P24W", b"due: 2031-01-01"
    )
    with pytest.raises(InvalidInputError) as raised:
        load_program(broken, "programs/p.yaml")
    messages = [str(p) for p in raised.value.problems if p.severity is Severity.ERROR]
    assert any("decision_point: unknown decision point 'nowhere'" in m for m in messages)
    assert any("due 2031-01-01 is outside the program window" in m for m in messages)
    assert any("needs exactly one mayor_checkin" in m for m in messages)


def test_plain_words_doctests() -> None:
    """The examples in models/file_loading.py (pydantic's reports in an operator's words)."""
    import doctest

    from models import file_loading

    result = doctest.testmod(file_loading)
    assert result.attempted > 0 and result.failed == 0
