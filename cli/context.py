"""The settings of one `accel` run: read once by the app's callback, found through its context."""

from __future__ import annotations

import typer

from accel.settings import InvalidSettingsError, Settings, load_settings
from cli.options import EXIT_INVALID_INPUT, err


def read_settings(ctx: typer.Context) -> None:
    """Read the ACCEL_ settings (environment, .env) for the command about to run.

    The app's callback: once per invocation and never cached beyond it, since one process (a
    test) may run the app many times with different environments. A bad value is one line on
    stderr naming the variable, and exit status 2, never a traceback.
    """
    try:
        ctx.obj = load_settings()
    except InvalidSettingsError as error:
        err.print(f"accel: {error}", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


def settings_of(ctx: typer.Context) -> Settings:
    """The settings `read_settings` stored for this invocation (sub-commands see them too)."""
    settings = ctx.find_object(Settings)
    if settings is None:  # a command run without the app: a programming error, not a user's
        raise RuntimeError("no settings in the context: run the command through cli.main.app")
    return settings
