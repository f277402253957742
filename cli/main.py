"""The `accel` app: every command registered, in the order `accel --help` lists them.

The commands live one group per module; their shared options, consoles and exit statuses
are in `cli.options`, and the settings of a run in `cli.context`.
"""

from __future__ import annotations

import typer

from cli import checks, cohort, db, deliverables, feeds, init, outbox, serve, simulate, web
from cli.context import read_settings
from cli.session import session_app

app = typer.Typer(
    help="Scheduling engine for the City Data Alliance Accelerator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.callback()(read_settings)

app.command()(cohort.validate)
app.command()(cohort.plan)
app.command()(cohort.apply)
app.command()(cohort.timeline)
app.command()(feeds.export)
app.command()(web.web)
app.command()(deliverables.deliverables)
app.command()(serve.serve)
app.command("simulate")(simulate.simulate_command)
app.command()(simulate.demo)
app.command()(init.init)
app.command()(outbox.dispatch)
app.command("check-deliverables")(checks.check_deliverables_command)
app.command("notify-decisions")(checks.notify_decisions_command)

app.add_typer(feeds.feeds_app, name="feeds")
app.add_typer(deliverables.deliverable_app, name="deliverable")
app.add_typer(outbox.outbox_app, name="outbox")
app.add_typer(db.db_app, name="db")
app.add_typer(session_app, name="session")


if __name__ == "__main__":  # pragma: no cover
    app()
