"""`accel web`: the HTTP server of the feeds, personal pages and operations dashboard."""

from __future__ import annotations

import os
import sys
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
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Serve a rehearsal at this fixed moment, ISO 8601 with offset (default: the "
            "real clock, refused on a database that holds a rehearsal).",
        ),
    ] = None,
) -> None:
    """Serve the feeds, the dashboard and the personal pages over HTTP with uvicorn.

    With --now every page and feed is computed at that fixed moment: a rehearsal seen at its
    own time (deadlines, sessions ahead, the timeline's today line).
    """
    # A bad setting or database is one line and exit 2 or 3 here, in this process, as for
    # every command; only a server that can start replaces it.
    engine_for(settings_of(ctx)).dispose()
    # The web room is the command line's sibling, not below it: this process becomes the web
    # room's own entry point (same PID, so signals and the exit status are the server's).
    flag = "--access-log" if access_log else "--no-access-log"
    argv = [sys.executable, "-m", "web", "--host", host, "--port", str(port), flag]
    if now is not None:
        argv += ["--now", now]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)  # noqa: S606 - a fixed argv of ours, no shell
