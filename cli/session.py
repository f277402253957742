"""`accel session move|cancel|restore`: operators' changes to sessions, as the flows make them.

Each runs the function the `reschedule_session` and `cancel_session` flows run
(tasks/operations.py), in this process and without Prefect: the override and the updates,
cancellations and re-timed reminders it implies commit in one transaction, or nothing does.
`--dry-run` makes every write and rolls them back, so it shows exactly who would get what.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import pydantic
import sqlalchemy as sa
import typer

from accel.feed_store import cohort_applied
from accel.session_overrides import SessionChangeError
from calendars.slots import to_local
from calendars.timeline_types import LoadedInputs
from cli.context import settings_of
from cli.options import (
    EXIT_INVALID_INPUT,
    CohortOption,
    JsonOption,
    NowOption,
    engine_for,
    err,
    exit_nothing_stored,
    load_or_exit,
    out,
    parse_now,
    record_given_now,
    step,
)
from models.file_types import Duration
from models.scenario_file import SessionPattern
from tasks.operations import override_sessions, restore_sessions
from tasks.session_changes import MessageTally, SessionChangeResult, SessionMove

session_app: typer.Typer = typer.Typer(
    help="Move, cancel or restore sessions: the flows' code, run here without Prefect.",
    no_args_is_help=True,
)

PatternArgument = Annotated[
    str,
    typer.Argument(
        metavar="KEY|GLOB",
        help="A session key (cda-2024/coaching/santiago/03) or a glob (cda-2024/coaching/*/05).",
        show_default=False,
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Show who would get what, and write nothing.")
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Why, in one line (stored with the change).")
]
MAX_REASON = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
Operation = Callable[[sa.Engine, LoadedInputs, dt.datetime], SessionChangeResult]


def _refuse(command: str, message: str) -> NoReturn:
    """One line on stderr, exit 2: nothing was changed."""
    err.print(f"accel session {command}: {message}; nothing was changed.", markup=False)
    raise typer.Exit(EXIT_INVALID_INPUT)


def _checked_pattern(command: str, pattern: str) -> str:
    try:
        return str(pydantic.TypeAdapter(SessionPattern).validate_python(pattern))
    except pydantic.ValidationError:
        _refuse(
            command,
            f"KEY|GLOB {pattern!r} is not a session key or glob (lowercase letters, digits, "
            "'/', '-', and the wildcards '*', '?', '[...]'; 3 to 200 characters)",
        )


def _checked_reason(command: str, reason: str | None) -> str | None:
    if reason is not None and (len(reason) > MAX_REASON or _CONTROL.search(reason)):
        _refuse(command, f"--reason: one line of at most {MAX_REASON} printable characters")
    return reason


def _parse_shift(value: str) -> dt.timedelta:
    """`P1D`, `PT90M`, or `-PT2H` to move earlier: an ISO 8601 duration of at most P52W."""
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    try:
        shift: dt.timedelta = pydantic.TypeAdapter(Duration).validate_python(text.lstrip("-+"))
    except pydantic.ValidationError as error:
        message = error.errors()[0]["msg"].removeprefix("Value error, ")
        _refuse("move", f"--shift {value!r}: {message}")
    return sign * shift


def _parse_to(value: str) -> dt.datetime:
    """`--to`: an ISO 8601 date and time with its offset."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or len(value.strip()) <= 10:
        _refuse(
            "move",
            f"--to {value!r}: give a date and time with its offset, "
            "e.g. 2024-09-12T15:00-03:00 or 2024-09-12T18:00Z",
        )
    return moment.astimezone(dt.UTC)


def _run(
    ctx: typer.Context,
    command: str,
    cohort: Path | None,
    now: dt.datetime,
    operation: Operation,
    *,
    json_out: bool,
    given: str | None,
) -> None:
    """Read the files, refuse a cohort never applied (exit 1), run `operation`, print it.

    A change made at a given `--now` (not a dry run) marks the database as a rehearsal."""
    inputs = load_or_exit(cohort)
    engine = engine_for(settings_of(ctx))
    with engine.connect() as connection:
        applied = cohort_applied(connection, cohort_id=inputs.cohort.id)
    if not applied:
        exit_nothing_stored(inputs.cohort.id)
    try:
        with step("changing the sessions and their messages in one transaction"):
            result = operation(engine, inputs, now)
    except SessionChangeError as error:
        _refuse(command, str(error))
    if not result.dry_run:
        with engine.begin() as connection:
            record_given_now(connection, given, now)
    if json_out:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
    else:
        _print_result(result)


@session_app.command("move")
def move(
    ctx: typer.Context,
    pattern: PatternArgument,
    shift: Annotated[
        str | None,
        typer.Option(
            "--shift", help="By how much: P1D, PT90M, or -PT2H (earlier); from the files' time."
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="The new start, with its offset: 2024-09-12T15:00-03:00."),
    ] = None,
    reason: ReasonOption = None,
    dry_run: DryRunOption = False,
    cohort: CohortOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move the sessions matching KEY|GLOB: their attendees get updates, reminders follow.

    A shift counts from the time the files give, so running the same move twice moves once.
    Sessions already started are left as they are; a move into the past is refused.
    """
    moment = parse_now(now)
    key = _checked_pattern("move", pattern)
    why = _checked_reason("move", reason)
    if (shift is None) == (to is None):
        _refuse("move", "give exactly one of --shift (e.g. P1D) or --to (e.g. 2024-09-12T15:00Z)")
    delta = _parse_shift(shift) if shift is not None else None
    start = _parse_to(to) if to is not None else None

    def operation(engine: sa.Engine, inputs: LoadedInputs, at: dt.datetime) -> SessionChangeResult:
        return override_sessions(
            engine,
            inputs,
            pattern=key,
            now=at,
            starts_at=start,
            shift=delta,
            reason=why,
            dry_run=dry_run,
        )

    _run(ctx, "move", cohort, moment, operation, json_out=as_json, given=now)


@session_app.command("cancel")
def cancel(
    ctx: typer.Context,
    pattern: PatternArgument,
    reason: ReasonOption = None,
    dry_run: DryRunOption = False,
    cohort: CohortOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel the sessions matching KEY|GLOB: their attendees get cancellations, reminders stop."""
    moment = parse_now(now)
    key = _checked_pattern("cancel", pattern)
    why = _checked_reason("cancel", reason)

    def operation(engine: sa.Engine, inputs: LoadedInputs, at: dt.datetime) -> SessionChangeResult:
        return override_sessions(
            engine, inputs, pattern=key, now=at, cancel=True, reason=why, dry_run=dry_run
        )

    _run(ctx, "cancel", cohort, moment, operation, json_out=as_json, given=now)


@session_app.command("restore")
def restore(
    ctx: typer.Context,
    pattern: PatternArgument,
    dry_run: DryRunOption = False,
    cohort: CohortOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove the operators' move or cancellation of the sessions matching KEY|GLOB: each goes
    back to what the files say, and its attendees are told."""
    moment = parse_now(now)
    key = _checked_pattern("restore", pattern)

    def operation(engine: sa.Engine, inputs: LoadedInputs, at: dt.datetime) -> SessionChangeResult:
        return restore_sessions(engine, inputs, pattern=key, now=at, dry_run=dry_run)

    _run(ctx, "restore", cohort, moment, operation, json_out=as_json, given=now)


VERBS = {
    "move": ("moved", "would move"),
    "cancel": ("cancelled", "would cancel"),
    "restore": ("restored", "would restore"),
}


def _local(moment: dt.datetime, zone: str) -> str:
    return f"{to_local(moment, zone):%a %Y-%m-%d %H:%M %Z}"


def _session_line(move: SessionMove) -> str:
    old = (
        "not stored"
        if move.old_starts_at is None
        else ("cancelled" if move.old_cancelled else _local(move.old_starts_at, move.timezone))
    )
    new = "cancelled" if move.new_starts_at is None else _local(move.new_starts_at, move.timezone)
    files = "" if move.targeted else "  (a change in the files, applied with it)"
    return f"  {move.key}  {old} → {new}  ({move.timezone}){files}"


def _tally_line(label: str, tally: MessageTally) -> str | None:
    counts = tally.as_dict()
    if not counts:
        return None
    parts = [f"{n['messages']} × {kind} to {n['recipients']} people" for kind, n in counts.items()]
    return f"{label}: " + ", ".join(parts)


def _print_result(result: SessionChangeResult) -> None:
    """The sessions with old → new local times, then the messages per kind and recipients."""
    done, would = VERBS[result.operation]
    at = result.now.isoformat().replace("+00:00", "Z")
    targeted = sum(1 for s in result.sessions if s.targeted)
    if not result.sessions:
        out.print(f"{result.cohort_id}: nothing to change at {at}: already so.", markup=False)
    else:
        verb = would if result.dry_run else done
        out.print(f"{result.cohort_id}: {verb} {targeted} session(s) at {at}:", markup=False)
        for move in result.sessions:
            out.print(_session_line(move), markup=False)
    messages = result.messages
    for label, tally in (
        ("queued", messages.queued),
        ("re-timed (still pending)", messages.retimed),
        ("cancelled before sending", messages.cancelled),
    ):
        if line := _tally_line(label, tally):
            out.print(f"messages {line}", markup=False)
    if result.already_started:
        out.print(
            f"{len(result.already_started)} matching session(s) had already started: "
            "left as they are.",
            markup=False,
        )
    if result.dry_run:
        out.print("Dry run: nothing was written.", markup=False)
