"""What every `accel` command shares: its options, consoles, exit codes, and opening its inputs.

Exit statuses (also in the README): 0 done; 1 the command could not do what was asked (e.g.
the cohort was never applied, or `dispatch` had messages fail); 2 a bad file, option or setting,
or a refusal (the real clock on a rehearsal database), nothing written; 3 the database
cannot be opened (ACCEL_DATABASE_URL unreachable or wrong: one line on stderr, its password
masked). Text from the input files is printed as it is: never read as rich markup or `:emoji:`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import sqlalchemy as sa
import typer
from rich.console import Console

from accel.database import (
    EMPTY_DATABASE_URL,
    DatabaseUnavailableError,
    is_missing_sqlite_file,
    open_engine,
)
from accel.inputs import load_inputs
from accel.rehearsal import describe_refusal, parse_instant, record_rehearsal, stored_rehearsal
from accel.settings import InvalidSettingsError, Settings, default_cohort_file, load_settings
from calendars.timeline_types import LoadedInputs
from models.file_loading import MAX_PROBLEMS
from models.problems import InvalidInputError, Problem, Severity

# emoji=False: a name such as "Team :smile:" is printed as written. Markup stays on for our own
# styling, so user text goes through `escape` or is printed with markup=False.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

EXIT_NOT_DONE = 1
EXIT_INVALID_INPUT = 2
EXIT_DATABASE_UNAVAILABLE = 3
# A timeline can have thousands of problems; the first ones say what to fix. The loader keeps
# at most MAX_PROBLEMS schema problems plus one line counting the rest: all of those show.
MAX_PROBLEMS_SHOWN = MAX_PROBLEMS + 1

CohortOption = Annotated[
    Path | None,
    typer.Option("--cohort", help="Cohort file (default: the shipped cohorts/cda-2024.yaml)."),
]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now", help="The moment to act at, ISO 8601 with offset (default: the real clock)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def parse_now(value: str | None) -> dt.datetime:
    """`--now`: an ISO 8601 instant with offset, or a date (midnight UTC); None is the clock.

    The real clock is refused (one line, exit 2) on a database that holds a rehearsal: every
    command gets its moment here, so none can act on a rehearsal's queue at the real clock.
    """
    if value is None:
        refuse_real_clock_on_rehearsal()
        return dt.datetime.now(dt.UTC)
    try:
        return parse_instant(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def _current_context() -> Any:
    """The running command's click context, or None outside a command.

    Recent typer carries its own copy of click (`typer._click`) with its own context stack;
    older typer uses click's.
    """
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - typer before it carried click
        from click import get_current_context  # type: ignore[no-redef]
    return get_current_context(silent=True)


def command_name() -> str:
    """The running command as typed, e.g. `accel outbox retry` (`accel` outside a command)."""
    words: list[str] = []
    context = _current_context()
    while context is not None and context.parent is not None:  # the root is `accel` itself
        words.insert(0, context.info_name or "")
        context = context.parent
    return " ".join(["accel", *words])


def _settings_of_this_run() -> Settings:
    context = _current_context()
    settings = context.find_object(Settings) if context is not None else None
    if isinstance(settings, Settings):
        return settings
    try:  # a command function called without the app: read them as the app would
        return load_settings()
    except InvalidSettingsError as error:
        err.print(f"accel: {error}", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


def refuse_real_clock_on_rehearsal() -> None:
    """Exit 2 with one line if the configured database holds a rehearsal (see accel.rehearsal).

    Reads without writing: a database that does not exist yet is not created here.
    """
    settings = _settings_of_this_run()
    try:
        mark = stored_rehearsal(settings.database_url.get_secret_value())
    except DatabaseUnavailableError as error:
        err.print(f"accel: {error}", markup=False)
        raise typer.Exit(EXIT_DATABASE_UNAVAILABLE) from None
    if mark is not None:
        err.print(describe_refusal(mark, who=command_name()), markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT)


def record_given_now(connection: sa.Connection, given: str | None, moment: dt.datetime) -> None:
    """Remember `--now` as the database's rehearsal moment, when it was given (see parse_now).

    Called by the commands that act on the queue at their moment (apply, dispatch, the checks,
    retry), after their inputs were found valid, in their transaction where they have one.
    """
    if given is not None:
        record_rehearsal(connection, moment=moment, set_by=f"{command_name()} --now")


def report_problems(problems: list[Problem]) -> None:
    """One line per problem on stderr, at most MAX_PROBLEMS_SHOWN of them (errors first)."""
    shown = problems
    if len(problems) > MAX_PROBLEMS_SHOWN:
        shown = sorted(problems, key=lambda p: p.severity is not Severity.ERROR)
        shown = shown[:MAX_PROBLEMS_SHOWN]
    for problem in shown:
        err.print(str(problem), markup=False)
    if hidden := len(problems) - len(shown):
        err.print(f"... and {hidden:,} more problems ({len(problems):,} in all)", markup=False)


@contextmanager
def step(label: str) -> Iterator[None]:
    """Progress on stderr: what is being done, and how long it took."""
    started = time.perf_counter()
    with err.status(label):
        yield
    err.print(f"{label}: done in {time.perf_counter() - started:.2f} s", markup=False, style="dim")


def load_or_exit(cohort: Path | None) -> LoadedInputs:
    """The cohort and its program, read and expanded; a bad file is its problems and exit 2."""
    try:
        with step("reading and expanding the program and cohort"):
            inputs = load_inputs(cohort or default_cohort_file())
    except InvalidInputError as error:
        report_problems(error.problems)
        errors = sum(1 for p in error.problems if p.severity == "error")
        err.print(f"{errors} error(s): nothing was changed.", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    report_problems(inputs.warnings)
    return inputs


def engine_for(settings: Settings, *, upgrade: bool = True) -> sa.Engine:
    """The configured database, upgraded to the newest schema unless not `upgrade`.

    Every command opens the database here: one that cannot be opened (refused, unknown host,
    no such folder, not a URL) is one line on stderr and exit status 3, never a traceback.
    """
    try:
        return open_engine(settings.database_url.get_secret_value(), upgrade=upgrade)
    except DatabaseUnavailableError as error:
        err.print(f"accel: {error}", markup=False)
        raise typer.Exit(EXIT_DATABASE_UNAVAILABLE) from None


def engine_for_reading(settings: Settings) -> sa.Engine:
    """As `engine_for`, for a command that writes nothing (`plan`, `serve --dry-run`): a
    SQLite file that does not exist yet is left uncreated, and an empty database read instead,
    which is what the first `apply` will find."""
    if is_missing_sqlite_file(settings.database_url.get_secret_value()):
        return open_engine(EMPTY_DATABASE_URL)
    return engine_for(settings)


def exit_nothing_stored(cohort_id: str) -> NoReturn:
    """Exit 1 for a command that reads what `apply` stores, when it stored nothing yet."""
    err.print(f"{cohort_id}: nothing stored yet; run `accel apply` first.", markup=False)
    raise typer.Exit(EXIT_NOT_DONE)
