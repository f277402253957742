"""`accel web`: the HTTP server of the feeds, personal pages and operations dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.context import settings_of
from cli.options import engine_for


def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log requests (tokens redacted).")
    ] = True,
) -> None:
    """Serve the feeds over HTTP with uvicorn: GET /calendars/<token>.ics and /healthz."""
    # Imported here: the other commands start without loading a web server.
    import uvicorn

    from web.app import create_app, log_config, server_config

    settings = settings_of(ctx)
    app = create_app(settings, engine=engine_for(settings), access_log=access_log)
    uvicorn.Server(server_config(app, host=host, port=port, log_config=log_config())).run()
