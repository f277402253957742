"""The settings of one `accel` run: read once by the app's callback, found through its context."""

from __future__ import annotations

from typing import get_args

import typer
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from accel.settings import Settings
from cli.options import EXIT_INVALID_INPUT, err


def read_settings(ctx: typer.Context) -> None:
    """Read the ACCEL_ settings (environment, .env) for the command about to run.

    The app's callback: once per invocation and never cached beyond it, since one process (a
    test) may run the app many times with different environments. A bad value is one line on
    stderr naming the variable, and exit status 2, never a traceback.
    """
    try:
        ctx.obj = Settings()
    except ValidationError as error:
        err.print(f"accel: {describe_invalid_settings(error)}", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    except SettingsError as error:  # a value the settings sources cannot even parse
        err.print(f"accel: {error}", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None


def settings_of(ctx: typer.Context) -> Settings:
    """The settings `read_settings` stored for this invocation (sub-commands see them too)."""
    settings = ctx.find_object(Settings)
    if settings is None:  # a command run without the app: a programming error, not a user's
        raise RuntimeError("no settings in the context: run the command through cli.main.app")
    return settings


def describe_invalid_settings(error: ValidationError) -> str:
    """`ACCEL_SMTP_PORT: Input should be a valid integer, ... (got 'x')`; several joined by `; `.

    A secret's value is never repeated.
    """
    parts = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"])
        line = f"ACCEL_{field.upper()}: {problem['msg']}"
        if not _is_secret(field):
            line += f" (got {problem['input']!r})"
        parts.append(line)
    return "; ".join(parts)


def _is_secret(field: str) -> bool:
    info = Settings.model_fields.get(field)
    if info is None:
        return True  # not a field we know: say nothing of its value
    return info.annotation is SecretStr or SecretStr in get_args(info.annotation)
