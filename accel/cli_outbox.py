"""The `accel outbox` and `accel dispatch` commands: see the queue, retry, send what is due.

Registered on `accel.cli.app` at the end of `accel/cli.py`; import that module, not this one.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from accel.cli import JsonOption, NowOption, engine_for, err, out, parse_now
from accel.dispatcher import outbox_counts, retry_failed, send_due_messages
from accel.senders import FileSender, make_sender
from accel.settings import Settings
from models.outbox import MessageStatus

outbox_app: typer.Typer = typer.Typer(  # annotated: cli.py imports this module back
    help="The queue of emails: counts by status, kind and city; retry a failed one.",
    invoke_without_command=True,
)
STATUSES = [s.value for s in MessageStatus]


@outbox_app.callback()
def outbox(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Messages by status, by kind and by city."""
    if ctx.invoked_subcommand is not None:
        return
    with engine_for(Settings()).connect() as connection:
        tables = {by: outbox_counts(connection, by=by) for by in ("kind", "city_id")}
    if as_json:
        document = {
            by: [
                {by: what, "status": status, "messages": n}
                for (what, status), n in sorted(counts.items())
            ]
            for by, counts in tables.items()
        }
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    totals = {
        s: sum(n for (_, status), n in tables["kind"].items() if status == s) for s in STATUSES
    }
    out.print("  ".join(f"{status}: {n}" for status, n in totals.items()), markup=False)
    for by, title in (("kind", "kind"), ("city_id", "city")):
        table = Table(title=f"by {title}")
        table.add_column(title)
        for status in STATUSES:
            table.add_column(status, justify="right")
        for what in sorted({w for w, _ in tables[by]}):
            row = (str(tables[by].get((what, s), "")) for s in STATUSES)
            table.add_row(escape(str(what)), *row)
        out.print(table)


@outbox_app.command("retry")
def retry(
    message: Annotated[int, typer.Argument(help="The message id (see `accel outbox`).")],
    now: NowOption = None,
) -> None:
    """Send a failed message again: back to pending, due now, its error cleared."""
    moment = parse_now(now)
    with engine_for(Settings()).begin() as connection:
        problem = retry_failed(connection, message=message, now=moment)
    if problem is not None:
        err.print(problem, markup=False)
        raise typer.Exit(1)
    out.print(f"message {message} is pending again; `accel dispatch` sends it.", markup=False)


def dispatch(
    now: NowOption = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Send at most this many.")] = None,
) -> None:
    """Send the emails due at --now: SMTP if ACCEL_SMTP_HOST is set, else .eml files."""
    moment = parse_now(now)
    settings = Settings()
    engine = engine_for(settings)
    sender = make_sender(settings)
    where = (
        f"SMTP {settings.smtp_host}:{settings.smtp_port}"
        if not isinstance(sender, FileSender)
        else f"{sender.folder}/ (.eml files)"
    )

    async def run() -> None:
        try:
            report = await send_due_messages(
                engine, now=moment, sender=sender, settings=settings, limit=limit
            )
        finally:
            await sender.aclose()
        out.print(
            f"to {where}: {report.sent} sent, {report.failed} failed, {report.retried} to retry, "
            f"{report.cancelled} cancelled, {report.deferred} deferred, "
            f"{report.reclaimed} reclaimed from a stopped dispatcher.",
            markup=False,
        )
        for reply, n in report.errors.most_common(5):
            err.print(f"{n} × {reply}", markup=False)

    asyncio.run(run())
