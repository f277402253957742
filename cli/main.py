"""The `accel` command line: validate, plan, apply and inspect a cohort.

Exit statuses (also in the README): 0 done; 1 the command could not do what was asked (e.g.
the cohort was never applied); 2 a bad file or option, nothing written; 3 the database cannot
be opened (ACCEL_DATABASE_URL unreachable or wrong: one line on stderr, its password masked).
Text from the input files is printed as it is: never read as rich markup or `:emoji:` codes.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from accel.database import DatabaseUnavailableError, open_engine
from accel.inputs import load_inputs
from accel.operations import apply_cohort, plan_cohort, with_overrides
from accel.settings import Settings, default_cohort_file
from calendars.reconcile import Plan
from calendars.slots import to_local
from calendars.timeline_types import LoadedInputs
from models.file_loading import MAX_PROBLEMS
from models.file_types import localized
from models.problems import InvalidInputError, Problem, Severity

app = typer.Typer(
    help="Scheduling engine for the City Data Alliance Accelerator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# emoji=False: a name such as "Team :smile:" is printed as written. Markup stays on for our own
# styling, so user text goes through `escape` or is printed with markup=False.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

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
    """`--now`: an ISO 8601 instant with offset, or a date (midnight UTC); None is the clock."""
    if value is None:
        return dt.datetime.now(dt.UTC)
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"not an ISO 8601 time: {value!r} (e.g. 2024-07-01T09:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no offset: add Z or e.g. -04:00")
    return moment.astimezone(dt.UTC)


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


@app.command()
def validate(cohort: CohortOption = None) -> None:
    """Check the cohort file and its program; print every problem, one per line."""
    inputs = load_or_exit(cohort)
    timeline = inputs.timeline
    out.print(
        f"{inputs.cohort_file} and {inputs.program_file} are valid: {len(inputs.cohort.cities)} "
        f"cities, {len(timeline.sessions)} sessions, {len(timeline.deliverables)} deliverables, "
        f"{len(inputs.warnings)} warning(s).",
        markup=False,
    )


def _print_plan(plan: Plan, *, as_json: bool, applied: bool) -> None:
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "cohort": plan.cohort_id,
                    "applied": applied,
                    "now": plan.now.isoformat().replace("+00:00", "Z"),
                    "changes": plan.changes(),
                    "past_unchanged": plan.past_unchanged,
                },
                indent=2,
            )
            + "\n"
        )
        return
    if plan.is_empty:
        out.print(f"{plan.cohort_id}: nothing to change at {_utc(plan.now)}.", markup=False)
    else:
        title = f"{escape(plan.cohort_id)}: {'applied' if applied else 'plan'} at {_utc(plan.now)}"
        table = Table(title=title)
        table.add_column("city")
        table.add_column("changes")
        for city, counts in sorted(plan.counts_by_city().items()):
            changes = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
            table.add_row(escape(city), escape(changes))
        out.print(table)
    if plan.past_unchanged:
        out.print(
            f"{len(plan.past_unchanged)} session(s) already started at --now are left as they were."
        )
    if started := plan.added_already_started:
        err.print(
            f"warning: {len(started)} new session(s) had already started at {_utc(plan.now)}: "
            "they are stored, but nobody is invited to them.",
            markup=False,
        )


def refuse_a_finished_program(inputs: LoadedInputs, now: dt.datetime, given: str | None) -> None:
    """Exit 2 when, at the real clock, every session has started: an `apply` would store the
    whole program as past and invite nobody, and a later `apply --now` could not undo that."""
    sessions = inputs.timeline.sessions
    if given is not None or not sessions or any(s.starts_at > now for s in sessions):
        return
    last = max(s.starts_at for s in sessions)
    err.print(
        f"{inputs.cohort_file}: every session of {inputs.cohort.id} started by now "
        f"({_utc(now)}; the last on {_utc(last)}): applying would invite nobody. "
        "Pass --now to act at an earlier moment, e.g. --now 2024-05-01T13:00Z.",
        markup=False,
    )
    raise typer.Exit(EXIT_INVALID_INPUT)


@app.command()
def plan(cohort: CohortOption = None, now: NowOption = None, as_json: JsonOption = False) -> None:
    """Show what `apply` would change in the database, per city, without writing anything."""
    moment = parse_now(now)
    inputs = load_or_exit(cohort)
    with step("comparing with the database"):
        result = plan_cohort(engine_for(Settings()), inputs, now=moment)
    _print_plan(result, as_json=as_json, applied=False)


@app.command()
def apply(cohort: CohortOption = None, now: NowOption = None, as_json: JsonOption = False) -> None:
    """Write the plan in one transaction. Applying the same files twice changes nothing."""
    moment = parse_now(now)
    inputs = load_or_exit(cohort)
    refuse_a_finished_program(inputs, moment, now)
    with step("reconciling and writing in one transaction"):
        result = apply_cohort(engine_for(Settings()), inputs, now=moment)
    _print_plan(result, as_json=as_json, applied=True)


@app.command()
def timeline(
    city: Annotated[str, typer.Option("--city", help="City id, e.g. santiago.")],
    cohort: CohortOption = None,
    as_json: JsonOption = False,
) -> None:
    """A city's whole timeline in its local time (sessions and deliverable deadlines), with
    the operators' moves and cancellations stored in the database."""
    files = load_or_exit(cohort)
    with engine_for(Settings()).connect() as connection:
        inputs = with_overrides(connection, files)
    found = next((c for c in inputs.cohort.cities if c.id == city), None)
    if found is None:
        ids = ", ".join(c.id for c in inputs.cohort.cities)
        err.print(f"{inputs.cohort_file}: cities: no city {city!r} (cities: {ids})", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    people = inputs.timeline.people
    city_emails = {p.key for p in people.values() if p.city_id == city}
    rows: list[dict[str, Any]] = []
    for session in inputs.timeline.sessions:
        if session.city_id != city and not city_emails & {a.person for a in session.attendees}:
            continue
        rows.append(
            {
                "type": "session",
                "key": session.key,
                "kind": session.kind.value,
                "title": localized(session.title, found.language),
                "starts_at": _utc(session.starts_at),
                "ends_at": _utc(session.ends_at),
                "local_start": to_local(session.starts_at, found.timezone).isoformat(),
                "local_end": to_local(session.ends_at, found.timezone).isoformat(),
                "timezone": found.timezone,
                "location": session.location,
                "attendees": [a.person for a in session.attendees if a.person in city_emails],
            }
        )
    for item in inputs.timeline.deliverables:
        if item.city_id == city:
            rows.append(
                {
                    "type": "deliverable",
                    "key": item.key,
                    "kind": "deliverable",
                    "title": localized(item.title, found.language),
                    "starts_at": _utc(item.due_at),
                    "ends_at": None,
                    "local_start": to_local(item.due_at, found.timezone).isoformat(),
                    "local_end": None,
                    "timezone": found.timezone,
                    "location": "",
                    "owners": list(item.owners),
                }
            )
    rows.sort(key=lambda r: (r["starts_at"], r["key"]))
    if as_json:
        sys.stdout.write(
            json.dumps(
                {"city": city, "timezone": found.timezone, "items": rows},
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
        return
    table = Table(title=f"{escape(found.name)} ({found.timezone}), all times local")
    for column in ("date", "time", "what", "title"):
        table.add_column(column)
    for row in rows:
        start = dt.datetime.fromisoformat(row["local_start"])
        end = dt.datetime.fromisoformat(row["local_end"]) if row["local_end"] else None
        hours = (
            f"{start:%H:%M}–{end:%H:%M}"
            if end and end.date() == start.date()
            else (f"{start:%H:%M} → {end:%a %d %b %H:%M}" if end else f"due {start:%H:%M}")
        )
        table.add_row(
            f"{start:%a %Y-%m-%d}", f"{hours} {start:%Z}", row["kind"], escape(row["title"])
        )
    out.print(table)
    if inputs is not files:
        out.print("Includes the operators' session moves and cancellations.", markup=False)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# Feed commands live in their own module; imported last because it imports this one.
from cli import feeds as cli_feeds  # noqa: E402

app.add_typer(cli_feeds.feeds_app, name="feeds")
app.command()(cli_feeds.export)
app.command()(cli_feeds.web)

from cli import deliverables as cli_deliverables  # noqa: E402

app.add_typer(cli_deliverables.deliverable_app, name="deliverable")
app.command()(cli_deliverables.deliverables)

from cli import serve as cli_flows  # noqa: E402

app.command()(cli_flows.serve)

from cli import simulate as cli_simulate  # noqa: E402

app.command("simulate")(cli_simulate.simulate_command)
app.command()(cli_simulate.demo)

from cli import outbox as cli_outbox  # noqa: E402

app.add_typer(cli_outbox.outbox_app, name="outbox")
app.command()(cli_outbox.dispatch)

from cli import checks as cli_checks  # noqa: E402

app.command("check-deliverables")(cli_checks.check_deliverables_command)
app.command("notify-decisions")(cli_checks.notify_decisions_command)

from cli import db as cli_db  # noqa: E402

app.add_typer(cli_db.db_app, name="db")


if __name__ == "__main__":  # pragma: no cover
    app()
