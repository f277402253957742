"""Reading a cohort file and the program it names, with every problem reported at once."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from accel.shipped import shipped_path
from calendars.budget import budget_problems, expansion_cost
from calendars.recurrence import RecurrenceRuleError, check_rule
from calendars.timeline import expand_timeline
from calendars.timeline_types import LoadedInputs
from models.cohort_file import Cohort
from models.file_loading import (
    check_cohort,
    check_program,
    load_cohort,
    load_scenario,
    parse_program,
    source_line,
)
from models.problems import InvalidInputError, Problem, Severity, format_place
from models.program_file import Program
from models.scenario_file import Scenario
from models.yaml_source import MAX_FILE_BYTES


def display_path(path: Path) -> str:
    """A path as the operator would type it: relative to the working directory when inside it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _read(path: Path) -> bytes:
    """The bytes of a regular file, reading no more than the size limit allows (+1 to tell)."""
    file = display_path(path)
    try:
        # Checked before opening: opening a FIFO waits for a writer, /dev/zero never ends.
        if not stat.S_ISREG(path.stat().st_mode):
            raise InvalidInputError([Problem(file, "", "not a regular file")])
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_size > MAX_FILE_BYTES:
                raise InvalidInputError(
                    [
                        Problem(
                            file,
                            "",
                            f"file is {info.st_size:,} bytes; the limit is {MAX_FILE_BYTES:,}",
                        )
                    ]
                )
            return handle.read(MAX_FILE_BYTES + 1)  # parse_yaml refuses one that grew meanwhile
    except FileNotFoundError:
        raise InvalidInputError([Problem(file, "", "no such file")]) from None
    except OSError as error:
        raise InvalidInputError([Problem(file, "", f"cannot read: {error.strerror}")]) from None


def load_scenario_file(path: Path) -> Scenario:
    """A scenario file, read as safely as the others (size, file type); InvalidInputError."""
    return load_scenario(_read(path), display_path(path))


def program_path_for(cohort_path: Path, program_id: str) -> Path:
    """`programs/<id>.yaml` beside the cohort folder, else in the working directory, else the
    one installed with the engine."""
    candidates = [
        cohort_path.resolve().parent.parent / "programs" / f"{program_id}.yaml",
        Path("programs") / f"{program_id}.yaml",
        shipped_path("programs", f"{program_id}.yaml"),
    ]
    return next((c for c in candidates if c.exists()), candidates[0])


def load_inputs(cohort_path: Path) -> LoadedInputs:
    """Load, check and expand. Raises `InvalidInputError` listing every error of both files."""
    cohort_file = display_path(cohort_path)
    problems: list[Problem] = []
    cohort: Cohort | None = None
    try:
        cohort = load_cohort(_read(cohort_path), cohort_file)
    except InvalidInputError as error:
        problems.extend(error.problems)
    program_id = cohort.program if cohort else _program_key_guess(cohort_path)
    program: Program | None = None
    program_file = f"programs/{program_id}.yaml"
    if program_id:
        path = program_path_for(cohort_path, program_id)
        program_file = display_path(path)
        if cohort is not None and not path.exists():
            # The mistake is in the cohort (a misspelt `program:`), so name the cohort's line.
            problems.append(
                Problem(
                    cohort_file,
                    "program",
                    f"no program {program_id!r}: there is no {program_file}",
                    line=source_line(cohort, ("program",)),
                )
            )
        else:
            try:
                program = parse_program(_read(path), program_file)
            except InvalidInputError as error:
                problems.extend(error.problems)
            else:
                program_problems = check_program(program, program_file)
                program_problems += recurrence_rule_problems(program, program_file)
                problems.extend(program_problems)
                if any(p.severity is Severity.ERROR for p in program_problems):
                    program = None
    if cohort is None or program is None:
        raise InvalidInputError(problems)
    # Before the cross-checks: they too grow with the expansion (one coach for 2,178 cities
    # took minutes to check).
    problems.extend(budget_problems_of(program, cohort, cohort_file))
    if problems and any(p.severity is Severity.ERROR for p in problems):
        raise InvalidInputError(problems)
    problems.extend(check_cohort(cohort, program, cohort_file))
    if any(p.severity is Severity.ERROR for p in problems):
        raise InvalidInputError(problems)
    timeline = expand_timeline(program, cohort, program_file=program_file, cohort_file=cohort_file)
    problems.extend(timeline.problems)
    if any(p.severity is Severity.ERROR for p in problems):
        raise InvalidInputError(problems)
    return LoadedInputs(program, cohort, program_file, cohort_file, timeline, problems)


def budget_problems_of(program: Program, cohort: Cohort, file: str) -> list[Problem]:
    """The expansion budgets (`calendars/budget.py`) the pair exceeds, blamed on the cohort."""
    cost = expansion_cost(program, cohort)
    problems = []
    for message in budget_problems(cost):
        coach = message.startswith("coach ")
        index = next((i for i, c in enumerate(cohort.coaches) if c.id == cost.busiest_coach), 0)
        place: tuple[str | int, ...] = ("coaches", index) if coach else ("cities",)
        problems.append(
            Problem(file, format_place(place), message, line=source_line(cohort, place))
        )
    return problems


def _program_key_guess(cohort_path: Path) -> str | None:
    """The `program:` key of a cohort file that failed validation, to check its program too."""
    import re

    try:
        if not stat.S_ISREG(cohort_path.stat().st_mode):
            return None
        with cohort_path.open("rb") as handle:
            text = handle.read(65536).decode("utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"^program:\s*([a-z0-9][a-z0-9-]{0,62})\s*$", text, re.MULTILINE)
    return match.group(1) if match else None


def recurrence_rule_problems(program: Program, file: str) -> list[Problem]:
    """Each session's recurrence rule checked against the RFC 5545 subset the engine expands."""
    problems: list[Problem] = []
    for i, series in enumerate(program.sessions):
        if series.recurrence is None:
            continue
        try:
            check_rule(series.recurrence.rule)
        except RecurrenceRuleError as error:
            place = ("sessions", i, "recurrence", "rule")
            problems.append(
                Problem(file, format_place(place), str(error), line=source_line(program, place))
            )
    return problems
