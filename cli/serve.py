"""`accel serve`: run every deployment on this machine, against a local Prefect server.

One dispatcher for the database, and each served cohort's own deployments: every cohort
applied in the database (its file found by its `cohort:` id), or those named with `--cohort`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from accel.cohort_files import cohort_folders, find_cohort_files
from accel.inputs import display_path
from accel.people_queries import cohort_ids, load_cities
from accel.settings import Settings, default_cohort_file
from cli.context import settings_of
from cli.options import (
    EXIT_INVALID_INPUT,
    engine_for_reading,
    err,
    load_or_exit,
    out,
    refuse_real_clock_on_rehearsal,
)

if TYPE_CHECKING:
    from flows.deployments import CohortDeployment

CohortFilesOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--cohort",
        help="A cohort file to serve; repeat for several "
        "(default: every cohort applied in the database).",
    ),
]


def serve(
    ctx: typer.Context,
    cohort: CohortFilesOption = None,
    prefect_port: Annotated[
        int,
        typer.Option(help="Port of the local Prefect server (0: any free port).", min=0),
    ] = 4200,
    dispatch_every: Annotated[
        int,
        typer.Option(help="Seconds between dispatcher runs.", min=1, metavar="SECONDS"),
    ] = 300,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the cohorts and deployments, then stop."),
    ] = False,
) -> None:
    """Serve all deployments (dispatcher every 5 minutes, daily checks) until interrupted.

    Uses PREFECT_API_URL when set; otherwise starts `prefect server start` on 127.0.0.1 first.
    The schedules run at the real clock: a database that holds a rehearsal is refused.
    """
    from accel.prefect_server import prefect_telemetry_off

    prefect_telemetry_off(os.environ)  # before Prefect is imported: it reads settings then
    from flows.deployments import build_deployments

    settings = settings_of(ctx)
    if not dry_run:
        refuse_real_clock_on_rehearsal()  # the schedules run at the real clock
    cohorts = cohorts_to_serve(settings, cohort)
    deployments = build_deployments(cohorts, dispatch_every=dt.timedelta(seconds=dispatch_every))
    if dry_run:
        _print_deployments(deployments, "Would serve these deployments (--dry-run):")
        return
    _serve(settings, deployments, prefect_port)


def cohorts_to_serve(settings: Settings, named: list[Path] | None) -> list[CohortDeployment]:
    """The cohorts named with --cohort, else every cohort applied in the database, else (none
    applied yet) the default cohort; each printed with its file. A file that is invalid, or an
    applied cohort whose file cannot be found, is one line each and exit 2."""
    from flows.deployments import CohortDeployment

    applied = _applied_cities(settings)
    if named:
        files, source = named, "named with --cohort"
    elif applied:
        files, source = _files_of(list(applied)), "every cohort applied in the database"
    else:
        files, source = [default_cohort_file()], "none applied in the database yet: the default"
    cohorts: dict[str, CohortDeployment] = {}
    for path in files:
        inputs = load_or_exit(path)
        cohort_id = inputs.cohort.id
        if cohort_id in cohorts:
            first = cohorts[cohort_id].cohort_file
            err.print(
                f"{display_path(path)}: cohort {cohort_id} is already served from "
                f"{display_path(Path(first))}: name each cohort once.",
                markup=False,
            )
            raise typer.Exit(EXIT_INVALID_INPUT)
        _warn_unless_as_applied(path, cohort_id, {c.id for c in inputs.cohort.cities}, applied)
        cohorts[cohort_id] = CohortDeployment(cohort_id, str(path.resolve()))
    out.print(f"Cohorts ({source}):", markup=False)
    width = max(len(i) for i in cohorts)
    for cohort_id, served in sorted(cohorts.items()):
        out.print(f"  {cohort_id:<{width}}  {display_path(Path(served.cohort_file))}", markup=False)
    return [cohorts[i] for i in sorted(cohorts)]


def _applied_cities(settings: Settings) -> dict[str, set[str]]:
    """Each cohort applied in the database, with the ids of its cities as last applied."""
    engine = engine_for_reading(settings)
    try:
        with engine.connect() as connection:
            return {
                cohort_id: {c.id for c in load_cities(connection, cohort_id=cohort_id)}
                for cohort_id in cohort_ids(connection)
            }
    finally:
        engine.dispose()


def _files_of(applied: list[str]) -> list[Path]:
    """Each applied cohort's file, by the id its `cohort:` key declares; exit 2 naming every
    cohort without exactly one file."""
    lookup = find_cohort_files(applied)
    folders = " or ".join(display_path(f) for f in cohort_folders())
    for cohort_id in lookup.missing:
        err.print(
            f"accel serve: cohort {cohort_id} is applied in the database, but no file in "
            f"{folders} says `cohort: {cohort_id}`: name each cohort's file with --cohort.",
            markup=False,
        )
    for cohort_id, paths in lookup.ambiguous.items():
        both = ", ".join(display_path(p) for p in paths)
        err.print(
            f"accel serve: cohort {cohort_id}: {both} all say `cohort: {cohort_id}`: "
            "name the one to serve with --cohort.",
            markup=False,
        )
    if lookup.missing or lookup.ambiguous:
        raise typer.Exit(EXIT_INVALID_INPUT)
    return list(lookup.found.values())


def _warn_unless_as_applied(
    path: Path, cohort_id: str, cities: set[str], applied: dict[str, set[str]]
) -> None:
    """A warning when the file is not what the database holds for its cohort: not applied
    yet, or other cities (edited since, or another file with the same `cohort:` id)."""
    shown = display_path(path)
    if cohort_id not in applied:
        err.print(
            f"warning: {shown}: cohort {cohort_id} is not applied in this database yet: "
            f"its daily checks queue nothing until `accel apply` or the sync-cohort-{cohort_id} "
            "deployment applies it.",
            markup=False,
        )
    elif cities != applied[cohort_id]:
        added = ", ".join(sorted(cities - applied[cohort_id])) or "none"
        gone = ", ".join(sorted(applied[cohort_id] - cities)) or "none"
        err.print(
            f"warning: {shown}: cohort {cohort_id} has other cities than the database holds "
            f"(only in the file: {added}; only in the database: {gone}): apply it, or name "
            "the file that was applied with --cohort.",
            markup=False,
        )


def _print_deployments(deployments: list[Any], heading: str) -> None:
    from flows.deployments import describe_schedules

    out.print(heading, markup=False)
    names = [f"{d.flow_name}/{d.name}" for d in deployments]
    width = max(len(n) for n in names)
    for name, deployment in zip(names, deployments, strict=True):
        out.print(f"  {name:<{width}}  {describe_schedules(deployment)}", markup=False)


def _serve(settings: Settings, deployments: list[Any], prefect_port: int) -> None:
    """Start (or reach) the Prefect server, say where, and serve until interrupted."""
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL

    from accel.prefect_server import local_prefect_server

    mail = (
        f"SMTP {settings.smtp_host}:{settings.smtp_port}"
        if settings.smtp_host
        else f".eml files in {settings.outbox_dir.resolve()}"
    )
    if not PREFECT_API_URL.value():
        where = f"port {prefect_port}" if prefect_port else "a free port"
        out.print(f"Starting a local Prefect server on 127.0.0.1, {where} (20-30 s)...")
    with local_prefect_server(prefect_port) as api_url:
        out.print(f"Prefect API: {api_url}", markup=False)
        if api_url.endswith("/api"):
            out.print(f"Prefect UI:  {api_url.removesuffix('/api')}", markup=False)
        out.print(f"Other terminals: export PREFECT_API_URL={api_url}", markup=False)
        out.print(f"Mail: {mail}", markup=False)
        _print_deployments(
            deployments, "Serving these deployments (Ctrl-C stops; schedules are paused on exit):"
        )
        prefect_serve(*deployments, print_starting_message=False)
