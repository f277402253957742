"""`accel serve`: run every deployment on this machine, against a local Prefect server."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from accel.settings import default_cohort_file
from cli.context import settings_of
from cli.options import CohortOption, out, refuse_real_clock_on_rehearsal


def serve(
    ctx: typer.Context,
    cohort: CohortOption = None,
    prefect_port: Annotated[
        int,
        typer.Option(help="Port of the local Prefect server (0: any free port).", min=0),
    ] = 4200,
    dispatch_every: Annotated[
        int,
        typer.Option(help="Seconds between dispatcher runs.", min=1, metavar="SECONDS"),
    ] = 300,
) -> None:
    """Serve all deployments (dispatcher every 5 minutes, daily checks) until interrupted.

    Uses PREFECT_API_URL when set; otherwise starts `prefect server start` on 127.0.0.1 first.
    The schedules run at the real clock: a database that holds a rehearsal is refused.
    """
    refuse_real_clock_on_rehearsal()
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL

    from accel.prefect_server import local_prefect_server
    from flows.deployments import build_deployments, describe_schedules

    cohort_file = str((cohort or default_cohort_file()).resolve())
    deployments = build_deployments(
        cohort_file, dispatch_every=dt.timedelta(seconds=dispatch_every)
    )
    settings = settings_of(ctx)
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
        out.print(f"Cohort: {cohort_file}", markup=False)
        out.print(f"Mail: {mail}", markup=False)
        out.print("Serving these deployments (Ctrl-C stops; schedules are paused on exit):")
        width = max(len(f"{d.flow_name}/{d.name}") for d in deployments)
        for deployment in deployments:
            name = f"{deployment.flow_name}/{deployment.name}"
            out.print(f"  {name:<{width}}  {describe_schedules(deployment)}", markup=False)
        prefect_serve(*deployments, print_starting_message=False)
