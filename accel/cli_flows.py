"""`accel serve`: run every deployment on this machine, against a local Prefect server."""

from __future__ import annotations

from typing import Annotated

import typer

from accel.cli import CohortOption, out
from accel.settings import default_cohort_file


def serve(
    cohort: CohortOption = None,
    prefect_port: Annotated[int, typer.Option(help="Port of the local Prefect server.")] = 4200,
) -> None:
    """Serve all deployments (dispatcher every 5 minutes, daily checks) until interrupted.

    Uses PREFECT_API_URL when set; otherwise starts `prefect server start` on 127.0.0.1 first.
    """
    from prefect import serve as prefect_serve

    from accel.prefect_server import local_prefect_server
    from flows.deployments import build_deployments

    cohort_file = str((cohort or default_cohort_file()).resolve())
    with local_prefect_server(prefect_port) as api_url:
        out.print(f"Prefect API: {api_url}", markup=False)
        prefect_serve(*build_deployments(cohort_file))
