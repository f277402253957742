"""`accel db upgrade`, `current`, `end-rehearsal`: the schema's revision, a rehearsal's end.

The revisions are Alembic's, in `migrations/`. Every other command upgrades the database to the
newest revision by itself (`create_schema`); these are for operators who migrate as a
deployment step, before starting workers. `end-rehearsal` forgets the simulated moment a
rehearsal reached (accel/rehearsal.py), so that the real clock may act on the database.
"""

from __future__ import annotations

from typing import Annotated

import typer
from alembic.util import CommandError

from accel.migrations import HEAD, SchemaError, current_revision, head_revision, upgrade_schema
from accel.rehearsal import end_rehearsal, utc_text
from cli.context import settings_of
from cli.options import EXIT_NOT_DONE, engine_for, err, out

db_app: typer.Typer = typer.Typer(
    help="The database: its schema revision, upgrading it (Alembic), ending a rehearsal.",
    no_args_is_help=True,
)


@db_app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Option("--revision", help="The revision to reach (default: the newest).")
    ] = HEAD,
) -> None:
    """Migrate the database to --revision, under a lock (concurrent upgrades run once)."""
    engine = engine_for(settings_of(ctx), upgrade=False)
    try:
        result = upgrade_schema(engine, revision)
    except (SchemaError, CommandError) as error:  # CommandError: e.g. an unknown --revision
        err.print(str(error), markup=False)
        raise typer.Exit(EXIT_NOT_DONE) from None
    finally:
        engine.dispose()
    if result.adopted:
        out.print(
            f"tables made before migrations recognised as revision {result.adopted}", markup=False
        )
    if result.changed:
        out.print(f"upgraded: {result.before or '(empty)'} -> {result.after}", markup=False)
    else:
        out.print(f"already at {result.after}: nothing to do", markup=False)


@db_app.command("current")
def current(ctx: typer.Context) -> None:
    """The database's revision, and the newest one this code knows."""
    engine = engine_for(settings_of(ctx), upgrade=False)
    try:
        with engine.connect() as connection:
            found = current_revision(connection)
    finally:
        engine.dispose()
    head = head_revision()
    if found == head:
        out.print(f"{found} (head)", markup=False)
    else:
        out.print(
            f"{found or '(none)'} (head is {head}: `accel db upgrade` migrates)", markup=False
        )


@db_app.command("end-rehearsal")
def end_rehearsal_command(ctx: typer.Context) -> None:
    """Let the real clock act on this database again: forget the rehearsal it holds.

    Commands given --now record the latest moment they reached; until this is run, anything at
    the real clock (commands without --now, the flows, `accel serve`, `accel web`) refuses the
    database. Nothing else changes: the next real-clock dispatch takes the queue as it stands.
    Safe to run again: without a rehearsal it does nothing.
    """
    engine = engine_for(settings_of(ctx))
    try:
        with engine.begin() as connection:
            mark = end_rehearsal(connection)
    finally:
        engine.dispose()
    if mark is None:
        out.print("no rehearsal recorded in this database: nothing to do.", markup=False)
        return
    out.print(
        f"rehearsal ended: the database had reached {utc_text(mark.reached_at)} (by "
        f"{mark.set_by}); commands without --now now act on it at the real clock. A dispatch "
        "that would cancel many messages as already started still stops unless --cancel-stale.",
        markup=False,
    )
