"""Turn the bytes of a program or cohort file into validated models, or into a list of problems."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from models.cohort_file import Cohort
from models.enums import Scope, SessionKind
from models.file_types import SLUG_PATTERN
from models.problems import InvalidInputError, Problem, Severity, format_place
from models.program_file import Program
from models.scenario_file import Scenario
from models.yaml_source import YamlDocument, parse_yaml

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_PROBLEMS = 100  # beyond this, more lines help nobody (a list of 200,000 bad items)

_FRIENDLY = {
    "missing": "missing (required)",
    "extra_forbidden": "unknown key (check the spelling)",
}


def _validation_problems(error: ValidationError, doc: YamlDocument) -> list[Problem]:
    problems = []
    items = error.errors(include_url=False)
    for item in items[:MAX_PROBLEMS]:
        location = tuple(item["loc"])
        path = _file_path(doc.data, location)
        message = (
            _FRIENDLY.get(item["type"])
            or _plain_words(item)
            or str(item["msg"]).removeprefix("Value error, ")
        )
        if item["type"] == "missing" and path and path[-1] in ("mayor", "coach"):
            message = f"missing: every city needs a {path[-1]}"
        elif item["type"] == "enum":
            what = path[-1] if path and isinstance(path[-1], str) else "value"
            expected = item.get("ctx", {}).get("expected", "")
            message = f"unknown {what} {item['input']!r} (one of: {expected.replace(' or ', ', ')})"
        problems.append(Problem(doc.file, format_place(path), message, line=doc.line_of(path)))
    problems = sorted(set(problems), key=lambda p: (p.line or 0, _natural(p.place), p.message))
    if len(items) > MAX_PROBLEMS:
        more = len(items) - MAX_PROBLEMS
        problems.append(Problem(doc.file, "", f"{more:,} more problems not shown: fix these first"))
    return problems


_DATE_ERRORS = {"date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"}
_TIME_ERRORS = {"time_parsing", "time_type"}


def _plain_words(item: Any) -> str | None:
    """An operator's words for what pydantic reports in its own (regex patterns, parsers).

    >>> _plain_words({"type": "string_pattern_mismatch", "input": "Carla",
    ...               "ctx": {"pattern": SLUG_PATTERN}})
    "'Carla' is not an id: use lowercase letters, digits and dashes (e.g. buenos-aires)"
    >>> _plain_words({"type": "date_from_datetime_parsing", "input": "2024-6-26"})
    "'2024-6-26' is not a date: write YYYY-MM-DD (e.g. 2024-06-26)"
    """
    kind, given = item["type"], item.get("input")
    if kind == "string_pattern_mismatch" and item.get("ctx", {}).get("pattern") == SLUG_PATTERN:
        return (
            f"{given!r} is not an id: use lowercase letters, digits and dashes (e.g. buenos-aires)"
        )
    if kind in _DATE_ERRORS:
        return f"{given!r} is not a date: write YYYY-MM-DD (e.g. 2024-06-26)"
    if kind in _TIME_ERRORS:
        return f"{given!r} is not a time of day: write HH:MM, 24-hour (e.g. 09:30)"
    return None


def _natural(place: str) -> list[str | int]:
    """`languages[9]` before `languages[10]`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", place)]


def _file_path(data: Any, location: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Keep the parts of a pydantic error location that are places in the file.

    Unions and annotated types add tags such as `function-after[...]` or `enum`; a missing key
    is kept as the last part so the message can name it.
    """
    path: list[str | int] = []
    node = data
    for i, part in enumerate(location):
        if (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)) or (
            isinstance(node, dict) and part in node
        ):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and i == len(location) - 1:
            path.append(part)  # a missing key
    return tuple(path)


def _parse(raw: bytes, file: str, model: type[ModelT]) -> ModelT:
    doc, problems = parse_yaml(raw, file)
    if doc is None:
        raise InvalidInputError(problems)
    try:
        parsed = model.model_validate(doc.data)
    except ValidationError as error:
        raise InvalidInputError(problems + _validation_problems(error, doc)) from None
    if problems:
        raise InvalidInputError(problems)
    parsed.__dict__["_lines"] = doc  # kept for later checks that want a line number
    return parsed


def source_line(model: BaseModel, location: tuple[str | int, ...]) -> int | None:
    doc = model.__dict__.get("_lines")
    return doc.line_of(location) if isinstance(doc, YamlDocument) else None


def parse_program(raw: bytes, file: str) -> Program:
    """The program file's schema alone; `check_program` adds the rules across its parts."""
    return _parse(raw, file, Program)


def load_program(raw: bytes, file: str) -> Program:
    program = parse_program(raw, file)
    problems = check_program(program, file)
    if any(p.severity is Severity.ERROR for p in problems):
        raise InvalidInputError(problems)
    return program


def load_cohort(raw: bytes, file: str) -> Cohort:
    return _parse(raw, file, Cohort)


def load_scenario(raw: bytes, file: str) -> Scenario:
    return _parse(raw, file, Scenario)


def _duplicates(values: list[str]) -> set[str]:
    return {v for v, n in Counter(values).items() if n > 1}


def check_program(program: Program, file: str) -> list[Problem]:
    """Rules that span several parts of a program file."""
    problems: list[Problem] = []

    def add(location: tuple[str | int, ...], message: str) -> None:
        problems.append(
            Problem(file, format_place(location), message, line=source_line(program, location))
        )

    for dup in _duplicates([s.id for s in program.sessions]):
        add(("sessions",), f"duplicate session id {dup!r}")
    for dup in _duplicates([d.id for d in program.deliverables]):
        add(("deliverables",), f"duplicate deliverable id {dup!r}")
    for dup in _duplicates([d.id for d in program.decision_points]):
        add(("decision_points",), f"duplicate decision point id {dup!r}")
    conveners = [i for i, s in enumerate(program.sessions) if s.kind is SessionKind.CONVENING]
    if len(conveners) != 1:
        add(("sessions",), "the program needs exactly one session of kind convening")
    for i in conveners:
        series = program.sessions[i]
        if series.scope is not Scope.COHORT or series.at is None:
            add(("sessions", i), "the convening is one cohort-wide session with fixed `at` timing")
    anchor = program.default_anchor.date
    start, end = program.starts.resolve(anchor), program.ends.resolve(anchor)
    if start >= end:
        add(("ends",), f"the program ends ({end}) before it starts ({start})")
    point_ids = {d.id for d in program.decision_points}
    deliverable_ids = {d.id for d in program.deliverables}
    linked: Counter[str] = Counter()
    for i, series in enumerate(program.sessions):
        if series.kind is SessionKind.MAYOR_CHECKIN:
            if series.decision_point is None:
                add(("sessions", i, "decision_point"), "a mayor check-in names its decision point")
            elif series.decision_point not in point_ids:
                add(
                    ("sessions", i, "decision_point"),
                    f"unknown decision point {series.decision_point!r}",
                )
            else:
                linked[series.decision_point] += 1
        elif series.decision_point is not None:
            add(("sessions", i, "decision_point"), "only a mayor_checkin has a decision point")
        if series.at is not None:
            first, last = series.at.starts.resolve(anchor), series.at.ends.resolve(anchor)
            if (last, series.at.end_time) <= (first, series.at.start_time):
                add(("sessions", i, "at"), "the session ends before it starts")
    for j, point in enumerate(program.decision_points):
        if linked[point.id] != 1:
            add(
                ("decision_points", j),
                "each decision point needs exactly one mayor_checkin session",
            )
        for k, ref in enumerate(point.deliverables):
            if ref not in deliverable_ids:
                add(("decision_points", j, "deliverables", k), f"unknown deliverable {ref!r}")
    for j, deliverable in enumerate(program.deliverables):
        due = deliverable.due.resolve(anchor)
        if not start <= due <= end:
            add(
                ("deliverables", j, "due"),
                f"due {due} is outside the program window {start} to {end}",
            )
    return problems


TEAM_SIZE = (3, 4)


def check_cohort(cohort: Cohort, program: Program, file: str) -> list[Problem]:
    """Rules that span several parts of a cohort file, or the cohort and its program."""
    problems: list[Problem] = []

    def add(
        location: tuple[str | int, ...], message: str, severity: Severity = Severity.ERROR
    ) -> None:
        problems.append(
            Problem(
                file, format_place(location), message, severity, line=source_line(cohort, location)
            )
        )

    if cohort.program != program.id:
        add(("program",), f"names program {cohort.program!r} but was given {program.id!r}")
    coach_ids = {c.id for c in cohort.coaches}
    seen_coach: set[str] = set()
    for i, coach in enumerate(cohort.coaches):
        if coach.id in seen_coach:
            add(("coaches", i, "id"), f"duplicate coach id {coach.id!r}")
        seen_coach.add(coach.id)
    seen_city: set[str] = set()
    emails: dict[str, str] = {cohort.organizer.email: "organizer.email"}

    def claim(email: str, location: tuple[str | int, ...]) -> None:
        place = format_place(location)
        if email in emails and emails[email] != place:
            add(location, f"duplicate email {email} (also at {emails[email]})")
        else:
            emails[email] = place

    for i, coach in enumerate(cohort.coaches):
        claim(coach.email, ("coaches", i, "email"))
    convening = program.convening
    no_substitutes = convening is not None and not convening.substitutes
    low, high = TEAM_SIZE
    for i, city in enumerate(cohort.cities):
        if city.id in seen_city:
            add(("cities", i, "id"), f"duplicate city id {city.id!r}")
        seen_city.add(city.id)
        if city.coach not in coach_ids:
            add(
                ("cities", i, "coach"),
                f"unknown coach {city.coach!r} (coaches: {', '.join(sorted(coach_ids))})",
            )
        else:
            coach = cohort.coach(city.coach)
            if city.language not in coach.languages:
                add(
                    ("cities", i, "coach"),
                    f"coach {coach.id} does not speak {city.language.value}",
                    Severity.WARNING,
                )
        if not low <= len(city.team) <= high:
            add(
                ("cities", i, "team"),
                f"the senior team has {len(city.team)} "
                f"{'person' if len(city.team) == 1 else 'people'}; it must have {low} to {high}",
            )
        claim(city.mayor.email, ("cities", i, "mayor", "email"))
        if city.mayor.substitute is not None and no_substitutes:
            add(
                ("cities", i, "mayor", "substitute"),
                "mayors attend the convening in person: no substitutes are accepted",
            )
        for j, member in enumerate(city.team):
            claim(member.email, ("cities", i, "team", j, "email"))
    return problems
