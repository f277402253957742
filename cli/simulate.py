"""`accel simulate` and `accel demo`: replay the program on a simulated clock into files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from accel.inputs import display_path, load_scenario_file
from accel.settings import default_cohort_file
from accel.shipped import shipped_path
from cli.options import (
    EXIT_INVALID_INPUT,
    CohortOption,
    err,
    load_or_exit,
    out,
    parse_now,
    report_problems,
)
from models.problems import InvalidInputError, Problem, Severity
from models.scenario_file import Scenario
from tasks.simulation import SimulationResult, simulate, write_summary

DEMO_SCENARIO = shipped_path("scenarios", "cda-2024-rehearsal.yaml")
DEMO_FROM = "2024-05-01T13:00Z"  # before the program: every invitation is still ahead
DEMO_UNTIL = "2024-12-31T23:59Z"


def _scenario(path: Path | None) -> tuple[Scenario | None, Path]:
    if path is None:
        return None, Path()
    try:
        return load_scenario_file(path), path.resolve().parent
    except InvalidInputError as error:
        _refuse(error.problems, "nothing was simulated")


def _refuse(problems: list[Problem], outcome: str) -> NoReturn:
    """The problems, one line each, a count and exit 2."""
    report_problems(problems)
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    err.print(f"{errors} error(s): {outcome}.", markup=False)
    raise typer.Exit(EXIT_INVALID_INPUT)


def _run(
    cohort: Path | None, scenario: Path | None, start: str, until: str, out_dir: Path
) -> SimulationResult:
    begin, end = parse_now(start), parse_now(until)
    if end <= begin:
        err.print(f"--until ({until}) must be after --from ({start})", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    inputs = load_or_exit(cohort)
    events, base = _scenario(scenario)
    last = [dt.datetime.min.replace(tzinfo=dt.UTC)]
    with err.status("simulating") as status:

        def progress(now: dt.datetime, steps: int) -> None:
            if now.date() != last[0].date():
                last[0] = now
                status.update(
                    f"simulating {escape(inputs.cohort.id)}: {now:%Y-%m-%d} ({steps} steps)"
                )

        try:
            result = simulate(
                inputs,
                out_dir,
                start=begin,
                until=end,
                scenario=events,
                scenario_dir=base,
                scenario_file=display_path(scenario) if scenario else "scenario",
                progress=progress,
            )
        except InvalidInputError as error:  # an event the cohort in force cannot carry out
            status.stop()
            _refuse(error.problems, f"the simulation stopped there ({out_dir} is incomplete)")
    write_summary(result)
    return result


def _print_summary(result: SimulationResult, top: int = 10) -> None:
    kinds = Table(title=f"{len(result.messages)} messages, by kind")
    kinds.add_column("kind")
    kinds.add_column("messages", justify="right")
    for kind, count in result.by_kind().most_common():
        kinds.add_row(escape(kind), str(count))
    out.print(kinds)
    cities = Table(title="by city (cohort-wide sessions count for each recipient's city)")
    cities.add_column("city")
    cities.add_column("messages", justify="right")
    for city, count in sorted(result.by_city().items()):
        cities.add_row(escape(city), str(count))
    out.print(cities)
    weeks = result.by_week()
    out.print(
        "by week: " + ", ".join(f"{week} {n}" for week, n in sorted(weeks.items())), markup=False
    )
    busiest = sorted(
        result.busiest_day_per_person().items(), key=lambda item: (-item[1][1], item[0])
    )
    people = Table(title=f"busiest day per person (top {top}, local dates)")
    people.add_column("person")
    people.add_column("day")
    people.add_column("messages", justify="right")
    for email, (day, count) in busiest[:top]:
        people.add_row(escape(email), day.isoformat(), str(count))
    out.print(people)


def simulate_command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for outbox/, calendars/, summary.csv.")
    ],
    cohort: CohortOption = None,
    start: Annotated[
        str, typer.Option("--from", help="Simulated start, ISO 8601 (date = 00:00 UTC).")
    ] = DEMO_FROM,
    until: Annotated[str, typer.Option("--until", help="Simulated end, ISO 8601.")] = DEMO_UNTIL,
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="Operator actions to replay.")
    ] = None,
) -> None:
    """Replay the program on a simulated clock against a fresh database; every email as .eml."""
    result = _run(cohort, scenario, start, until, out_dir)
    _print_summary(result)
    out.print(
        f"{result.steps} simulated moments. Emails: {out_dir / 'outbox'}/ ; feeds: "
        f"{out_dir / 'calendars'}/ ; summary: {out_dir / 'summary.csv'}",
        markup=False,
    )


def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for everything produced.")] = Path(
        "demo-output"
    ),
) -> None:
    """The whole 2024 program, rehearsed: every email of the six months and every feed, as files."""
    result = _run(default_cohort_file(), DEMO_SCENARIO, DEMO_FROM, DEMO_UNTIL, out_dir)
    _print_summary(result, top=5)
    for line in (
        "",
        f"Done: the shipped cohort replayed from {DEMO_FROM} to {DEMO_UNTIL} with the rehearsal",
        f"scenario (scenarios/{DEMO_SCENARIO.name}). Where to look:",
        f"  {out_dir / 'outbox'}/        {len(result.messages)} emails (.eml, open them in a mail client), dated when they would be sent",
        f"  {out_dir / 'calendars'}/     {sum(result.feeds.values())} calendar feeds (.ics): the cohort, each city, each person",
        f"  {out_dir / 'summary.csv'}   messages per kind, city and week; each person's busiest day",
        "Next: accel timeline --city santiago   |   accel simulate --help",
    ):
        out.print(line, markup=False)
