"""The corpus of broken and hostile files: `validate` and `apply` refuse each one cleanly.

Every file under `tests/data/bad/` is in the table below (a test checks it). For each, both
commands must exit 2, print one `FILE: PLACE: message` or `FILE: message` line per problem naming
the bad file, never a traceback, and leave a database that already holds a cohort untouched.
Program files live in `tests/data/bad/programs/`; each is run through the cohort of the same
name in `tests/data/bad/cohorts/`, which finds it as `programs/<id>.yaml` beside its folder.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from accel.inputs import display_path
from cli.main import app
from models.printable import printable
from models.yaml_source import MAX_FILE_BYTES
from tests.conftest import REPO, SMALL_COHORT, dump_database

BAD = REPO / "tests" / "data" / "bad"
NOW = "2024-05-01"
runner = CliRunner()


@dataclass(frozen=True)
class Case:
    cohort: str  # what `--cohort` is given, relative to the repository
    bad_file: str  # the file every problem line must name
    words: tuple[str, ...]  # each must appear in the problems
    program: str | None = None  # the bad program file, for a program case

    @property
    def id(self) -> str:
        return (self.program or self.cohort).removeprefix("tests/data/bad/").removesuffix(".yaml")


def cohort(name: str, *words: str) -> Case:
    path = f"tests/data/bad/{name}.yaml"
    return Case(path, path, words)


def program(name: str, *words: str, blames_cohort: bool = False) -> Case:
    driver, bad = f"tests/data/bad/cohorts/{name}.yaml", f"tests/data/bad/programs/{name}.yaml"
    return Case(driver, driver if blames_cohort else bad, words, bad)


CASES = [
    # -- cohort files: schema and cross-checks ---------------------------------------------
    cohort("bad-email", "cities[0].team[1].email: not an email address"),
    cohort("duplicate-email", "duplicate email l.gimenez@asuncion.example.org"),
    cohort("team-too-small", "has 2 people; it must have 3 to 4"),
    cohort("team-too-large", "has 5 people; it must have 3 to 4"),
    cohort("missing-mayor", "cities[1].mayor: missing: every city needs a mayor"),
    cohort("missing-coach", "cities[1].coach: missing: every city needs a coach"),
    cohort("missing-organizer", "organizer: missing (required)"),
    cohort("missing-cohort-key", "cohort: missing (required)"),
    cohort("unknown-coach", "unknown coach 'zoe'"),
    cohort("coach-not-an-id", "cities[1].coach: 'Bruno' is not an id: use lowercase letters"),
    cohort("unknown-role", "unknown role 'astrologer'"),
    cohort("unknown-language", "cities[1].language: unknown language 'fr'"),
    cohort("unknown-keys", "notes: unknown key", "cities[1].timezon: unknown key"),
    cohort("mayor-substitute", "no substitutes are accepted"),
    cohort("duplicate-city-id", "duplicate city id 'santiago'"),
    cohort("many-problems", "not an email address", "unknown time zone", "unknown role"),
    cohort("wrong-type-team", "cities[1].team: Input should be a valid list"),
    cohort("wrong-type-cities", "cities: Input should be a valid list"),
    cohort("wrong-type-working-hours", "cities[0].working_hours: Input should be a valid dict"),
    cohort("working-hours-reversed", "working hours must start before they end"),
    cohort("javascript-url", "virtual_meeting.base_url: URL scheme should be 'http' or 'https'"),
    # -- zones, dates and times ----------------------------------------------------------------
    cohort("unknown-timezone", "unknown time zone 'America/Atlantis'"),
    cohort("legacy-zone", "cities[2].timezone: 'EST' is a legacy zone name, not a place"),
    cohort(
        "unknown-zone-coach",
        "coaches[1].timezone: unknown time zone 'Mars/Olympus_Mons'",
        "cities[2].team[1].timezone: unknown time zone 'America'",
    ),
    cohort("impossible-date", "line 6, column 9: not a valid date '2024-02-30'"),
    cohort("impossible-timestamp", "not a valid date '2024-06-26T25:00:00'"),
    cohort("impossible-time", "cities[1].coaching.time: not a time of day '25:00'"),
    cohort("far-future-convening", "convening.date: 9999-06-26 is not between"),
    # -- overlaps ------------------------------------------------------------------------------
    cohort("coach-double-booked", "cities[2].coaching: coach ana is double-booked"),
    cohort(
        "pinned-overlaps-masterclass",
        "cities[0].coaching: city baltimore is busy",
        "overlaps test-bad/masterclass/05",
    ),
    cohort("outside-working-hours-strict", "outside the working hours of city asuncion"),
    # -- unsafe or broken YAML -----------------------------------------------------------------
    cohort("malformed-yaml", "malformed YAML: line 9, column 1"),
    cohort("yaml-bomb", "aliases (*name) are not allowed"),
    cohort("python-object-tag", "tags such as !!python/object/apply:os.system are not allowed"),
    cohort("binary-tag", "tags such as !!binary are not allowed"),
    cohort("merge-key", "merge keys (<<) are not allowed"),
    cohort("duplicate-key", "cities[1].timezone: duplicate key"),
    cohort("latin-1", "not UTF-8 text"),
    cohort("nul-byte", "line 11: U+0000 is not allowed"),
    cohort("tab-indentation", "malformed YAML: line 11"),
    cohort("deep-nesting", "malformed YAML", "nest"),
    cohort("two-documents", "malformed YAML", "another document"),
    cohort("top-level-list", "the file must be a mapping"),
    cohort("empty", "the file is empty"),
    cohort("huge-list", "coaches[0].languages[99]: unknown value 'fr'", "19,900 more problems"),
    # -- injection: line breaks and markup where they do harm ----------------------------------
    cohort("name-crlf", "cities[0].name: may not contain line breaks"),
    cohort(
        "mayor-title",
        "cities[0].mayor.title.es: may not contain line breaks",
        "cities[0].mayor.assistant: not an email address",
        "cities[1].mayor: title and salutation must be given for the same languages",
        "cities[2].mayor.title.es: Value should have at most 40",
        "cities[2].mayor.family_name: Value should have at least 1",
    ),
    cohort("name-line-separator", "cities[0].mayor.name: may not contain line breaks"),
    cohort("name-bidi-override", "organizer.name: may not contain line breaks or control"),
    cohort("email-header-injection", "cities[0].team[1].email: not an email address"),
    cohort("email-with-markup", "cities[0].team[1].email: not an email address"),
    cohort("template-in-id", "cities[0].id: '{{ 7*7 }}' is not an id"),
    # -- terminal injection: keys are printed escaped, one line per problem -------------------
    cohort("key-newline", "notes\\ntests/data/bad/key-newline.yaml: cities[0].name: the city"),
    cohort(
        "key-escape-sequences",
        "cities[0].note\\x1b[2J\\x1b[H\\x1b]0;pwned\\x07: unknown key",
        "cities[0].\\x9b31mred\\x7f\\u2028\\x85\\u202esdrawkcab: unknown key",
    ),
    # -- RFC 2047 encoded words and control characters (issue 16, items 1 and 2) -------------
    cohort("name-encoded-word", "cities[0].team[1].name: may not contain an RFC 2047 encoded"),
    cohort("organizer-encoded-word", "organizer.name: may not contain an RFC 2047 encoded word"),
    cohort("name-encoded-nul-bell", "cities[0].mayor.name: may not contain an RFC 2047"),
    cohort("name-encoded-spoof", "coaches[0].name: may not contain an RFC 2047 encoded word"),
    cohort("name-escape-bell", "cities[0].team[0].name: may not contain line breaks or control"),
    cohort(
        "venue-escape",
        "convening.venue.name: may not contain line breaks or control characters (U+001B)",
        "convening.venue.address: may not contain line breaks or control characters (U+202E)",
    ),
    cohort(
        "email-dots",
        "cities[0].mayor.email: not an email address",
        "cities[0].team[0].email: not an email address",
        "cities[0].team[1].email: not an email address",
        "cities[0].team[2].email: not an email address",
    ),
    # -- the `program:` key --------------------------------------------------------------------
    cohort("wrong-program-key", "program: no program 'cda-accelerater'"),
    cohort("program-path-traversal", "program: '../../../etc/passwd' is not an id"),
    # -- program files -------------------------------------------------------------------------
    program("window-ends-before-start", "ends: the program ends (2024-05-29) before it starts"),
    program(
        "checkin-without-decision-point",
        "sessions[7].decision_point: unknown decision point 'budget'",
    ),
    program(
        "decision-point-without-checkin",
        "decision_points[3]: each decision point needs exactly one mayor_checkin",
    ),
    program("decision-point-missing-deliverable", "unknown deliverable 'budget-plan'"),
    program("rrule-count-huge", "more than 60 occurrences (COUNT=100000)"),
    program("rrule-secondly", "FREQ must be DAILY, WEEKLY or MONTHLY"),
    program("rrule-no-end", "the rule must end: give COUNT or UNTIL"),
    program("rrule-until-far", "more than 60 occurrences"),
    program("rrule-never", "sessions[1].recurrence.rule: the rule yields no occurrence"),
    program("rrule-byhour", "BYHOUR is not supported"),
    program(
        "wrong-types",
        "sessions[1].duration: not a duration '90 minutes'",
        "sessions[3].audience: Input should be a valid list",
    ),
    program("missing-keys", "timezone: missing (required)", "starts: missing (required)"),
    program("wrong-program-key", "program: missing (required)", "programme: unknown key"),
    program("id-mismatch", "names program 'id-mismatch'", blames_cohort=True),
    program("unknown-zone", "timezone: unknown time zone 'America/Baltimore'"),
    program("impossible-time", "sessions[0].at.start_time: not a time of day '25:00'"),
    program("date-not-iso", "default_anchor.date: '2024-6-26' is not a date: write YYYY-MM-DD"),
    program("convening-ends-before-start", "sessions[0].at: the session ends before it starts"),
    program(
        "overflowing-durations",
        "sessions[0].invite_before: P99999W is longer than the limit",
        "deliverables[5].due: not a day",
    ),
    program("session-outside-window", "falls outside the program window"),
    program("too-many-sessions", "sessions: List should have at most 50 items"),
    program("python-tag", "tags such as !!python/object/apply:subprocess.check_output"),
    program("duplicate-session-id", "duplicate session id 'coaching'"),
    program("no-convening", "exactly one session of kind convening"),
    program("title-control-character", "sessions[1].title: the en text contains a control"),
    program("title-encoded-word", "sessions[1].title: the en text may not contain an RFC 2047"),
    program("title-escape-bell", "sessions[1].title: the en text contains a control character"),
    program("title-bidi-override", "deliverables[0].title: the en text contains a control"),
    program("title-too-long", "sessions[1].title: the en text has 5,000 characters; the limit"),
    program("description-escape", "sessions[1].description: the en text contains a control"),
    program("description-too-long", "decision_points[0].decide: the en text has 4,499 characters"),
    program("escalation-misordered", "escalation must go team_overdue < coach < mayor"),
    program(
        "expansion-over-budget",
        "cities: expanding this program for this cohort would make 87,476 sessions",
        "3,386,909 outbox rows; the budget is 300,000",
        "coaches[0]: coach coach-es-1 would have 7,286 sessions; the budget is 1,000 per coach",
        blames_cohort=True,
    ),
]

SUMMARY = re.compile(r"^\d+ error\(s\): nothing was changed\.$")
CAPPED = re.compile(r"^\.\.\. and (?P<hidden>[\d,]+) more problems \((?P<total>[\d,]+) in all\)$")
PLACE = r"[A-Za-z_][\w-]*(?:\[\d+\]|\.[A-Za-z_][\w-]*)*"


@dataclass(frozen=True)
class AppliedDatabase:
    """A SQLite file holding the small cohort applied at NOW, and a dump of every table."""

    path: Path
    dump: dict[str, list[tuple[object, ...]]]


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> AppliedDatabase:
    path = tmp_path_factory.mktemp("applied") / "accel.db"
    result = runner.invoke(
        app,
        ["apply", "--cohort", str(SMALL_COHORT), "--now", NOW],
        env={"ACCEL_DATABASE_URL": f"sqlite:///{path}"},
    )
    assert result.exit_code == 0, result.output
    return AppliedDatabase(path, _dump(path))


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        return dump_database(engine)
    finally:
        engine.dispose()


@pytest.fixture
def database(applied: AppliedDatabase, tmp_path: Path) -> Iterator[Path]:
    """A copy of the applied database (through SQLite's backup, which includes the WAL)."""
    copy = tmp_path / "accel.db"
    source, target = sqlite3.connect(applied.path), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    yield copy


def check_refusal(
    output: str, stdout: str, exit_code: int, bad_file: str, words: tuple[str, ...]
) -> None:
    """Exit 2, nothing on stdout, one named line per problem, then the summary; no traceback."""
    assert exit_code == 2, output
    assert "Traceback" not in output
    # Nothing from the file reaches the terminal raw: no escape sequence, no bidi override.
    assert printable(output.replace("\n", "")) == output.replace("\n", ""), repr(output)
    assert stdout == ""
    lines = output.splitlines()
    assert lines and SUMMARY.match(lines[-1]), output
    problems = lines[:-1]
    assert problems, output
    # A long list is cut after the first problems (errors first), and says how many it hid.
    capped = CAPPED.match(problems[-1])
    if capped:
        problems = problems[:-1]
        hidden, total = (int(capped[n].replace(",", "")) for n in ("hidden", "total"))
        assert len(problems) + hidden == total, output
    line_form = re.compile(rf"^{re.escape(bad_file)}: (?:{PLACE}: )?\S.*$")
    for line in problems:
        assert line_form.match(line), f"not `FILE: PLACE: message` for {bad_file}: {line!r}"
    errors = [line for line in problems if ": warning: " not in line]
    if capped:
        assert errors == problems, "errors are shown before warnings"
        assert int(lines[-1].split()[0]) >= len(errors)
    else:
        assert lines[-1].startswith(f"{len(errors)} error(s)")
    for word in words:
        assert any(word in line for line in problems), f"{word!r} not in:\n{output}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate_and_apply_refuse_the_file_and_write_nothing(
    case: Case, applied: AppliedDatabase, database: Path
) -> None:
    env = {"ACCEL_DATABASE_URL": f"sqlite:///{database}"}
    for command in (["validate"], ["apply", "--now", NOW]):
        result = runner.invoke(app, [*command, "--cohort", case.cohort], env=env)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        check_refusal(result.stderr, result.stdout, result.exit_code, case.bad_file, case.words)
    assert _dump(database) == applied.dump


def test_a_ten_megabyte_file_is_refused_before_it_is_read(
    tmp_path: Path, applied: AppliedDatabase, database: Path
) -> None:
    big = tmp_path / "ten-megabytes.yaml"
    with big.open("wb") as handle:
        handle.write(b"# Bad on purpose: 10 MB, ten times the limit\n" + SMALL_COHORT.read_bytes())
        handle.write(b"# padding to ten megabytes\n" * (10_000_000 // 27))
    assert big.stat().st_size >= 10_000_000
    env = {"ACCEL_DATABASE_URL": f"sqlite:///{database}"}
    for command in (["validate"], ["apply", "--now", NOW]):
        result = runner.invoke(app, [*command, "--cohort", str(big)], env=env)
        check_refusal(
            result.stderr,
            result.stdout,
            result.exit_code,
            display_path(big),
            (f"bytes; the limit is {MAX_FILE_BYTES:,}",),
        )
    assert _dump(database) == applied.dump


def test_the_python_tag_never_runs() -> None:
    """The corpus's os.system payload would create this file if the loader were unsafe."""
    marker = Path("/tmp/accel-pwned")
    marker.unlink(missing_ok=True)
    result = runner.invoke(app, ["validate", "--cohort", "tests/data/bad/python-object-tag.yaml"])
    assert result.exit_code == 2
    assert not marker.exists()


def test_every_file_of_the_corpus_is_in_the_table() -> None:
    in_table = {c.cohort for c in CASES} | {c.program for c in CASES if c.program}
    on_disk = {str(p.relative_to(REPO)) for p in BAD.rglob("*.yaml")}
    assert on_disk == in_table
    assert len(CASES) >= 40


@pytest.mark.parametrize("path", sorted(BAD.rglob("*.yaml")), ids=lambda p: str(p.relative_to(BAD)))
def test_every_file_says_in_its_first_line_what_is_wrong(path: Path) -> None:
    first = path.read_bytes().split(b"\n", 1)[0]
    assert re.match(rb"^# (Bad on purpose|Valid on its own): ", first), first
