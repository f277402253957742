"""The `accel outbox` and `accel dispatch` commands: see the queue, list, retry, send what is due."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.context import settings_of
from cli.options import (
    EXIT_INVALID_INPUT,
    EXIT_NOT_DONE,
    JsonOption,
    NowOption,
    engine_for,
    err,
    out,
    parse_now,
    record_given_now,
)
from mail.dispatcher import DispatchReport
from mail.outbox_queries import outbox_counts, outbox_messages, retry_failed
from models.outbox import MessageKind, MessageStatus
from models.printable import printable
from tasks.dispatch_pass import dispatch_due, mail_destination

outbox_app: typer.Typer = typer.Typer(
    help="The queue of emails: counts by status, kind and city; list messages; retry a failed one.",
    invoke_without_command=True,
)
STATUSES = [s.value for s in MessageStatus]
ERROR_SHOWN = 60  # characters of a message's last error in the `outbox list` table
LIST_HINT = "`accel outbox list` shows them, `accel outbox retry ID` sends one again"


def utc_iso(moment: dt.datetime) -> str:
    """`2024-05-01T09:30:00Z`: whole seconds, in UTC."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def one_line(text: str, width: int) -> str:
    """`text` on one line (a multi-line SMTP reply joined, controls escaped), cut to `width`."""
    flat = printable(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@outbox_app.callback()
def outbox(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Messages by status, by kind and by city."""
    if ctx.invoked_subcommand is not None:
        return
    with engine_for(settings_of(ctx)).connect() as connection:
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
    if failed := totals[MessageStatus.FAILED.value]:
        out.print(f"{failed} failed: {LIST_HINT}.", markup=False)


@outbox_app.command("list")
def list_messages(
    ctx: typer.Context,
    status: Annotated[
        MessageStatus, typer.Option("--status", help="Messages in this state.")
    ] = MessageStatus.FAILED,
    kind: Annotated[MessageKind | None, typer.Option("--kind", help="Only this kind.")] = None,
    city: Annotated[str | None, typer.Option("--city", help="Only this city's (its id).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """One line per message, by send time: id, kind, city, recipient, send_at, attempts, error.

    The id is what `accel outbox retry` takes; --json gives the last error whole.
    """
    with engine_for(settings_of(ctx)).connect() as connection:
        rows, total = outbox_messages(
            connection,
            status=status.value,
            kind=None if kind is None else kind.value,
            city=city,
            limit=limit,
        )
    if as_json:
        document = {
            "status": status.value,
            "total": total,
            "messages": [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "city": r.city_id,
                    "email": r.email,
                    "send_at": r.send_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                }
                for r in rows
            ],
        }
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    if not rows:
        out.print(f"No {status.value} messages.", markup=False)
        return
    # Plain aligned columns, never cut or dropped for the terminal's width: ids and addresses
    # are copied from here.
    lines = [["id", "kind", "city", "email", "send_at (UTC)", "attempts", "last error"]]
    for r in rows:
        error = "" if r.last_error is None else one_line(r.last_error, ERROR_SHOWN)
        city_id = "(cohort)" if r.city_id is None else r.city_id
        when = utc_iso(r.send_at)
        lines.append([str(r.id), r.kind, city_id, r.email, when, str(r.attempts), error])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]) - 1)]
    for line in lines:
        cells = [cell.ljust(w) for cell, w in zip(line, widths, strict=False)]
        out.print("  ".join([*cells, line[-1]]).rstrip(), markup=False)
    if total > len(rows):
        out.print(
            f"... and {total - len(rows):,} more ({total:,} in all): raise --limit.", markup=False
        )


@outbox_app.command("retry")
def retry(
    ctx: typer.Context,
    message: Annotated[
        int, typer.Argument(help="The message id: `accel outbox list` shows the failed ones.")
    ],
    now: NowOption = None,
) -> None:
    """Send a failed message again: back to pending, due at --now, its error cleared.

    `accel outbox list` shows the failed messages with their ids and errors.
    """
    moment = parse_now(now)
    with engine_for(settings_of(ctx)).begin() as connection:
        problem = retry_failed(connection, message=message, now=moment)
        if problem is None:
            record_given_now(connection, now, moment)
    if problem is not None:
        err.print(problem, markup=False)
        raise typer.Exit(EXIT_NOT_DONE)
    out.print(f"message {message} is pending again; `accel dispatch` sends it.", markup=False)


CancelStaleOption = Annotated[
    bool,
    typer.Option(
        "--cancel-stale",
        help="Cancel the messages whose session already started even when they are many "
        "(without it such a pass stops and changes nothing).",
    ),
]
FAILED_IDS_SHOWN = 20  # ids of failed messages named on stderr; --json lists them all


def dispatch(
    ctx: typer.Context,
    now: NowOption = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Send at most this many.")] = None,
    cancel_stale: CancelStaleOption = False,
    as_json: JsonOption = False,
) -> None:
    """Send the emails due at --now: SMTP if ACCEL_SMTP_HOST is set, else .eml files.

    Exit status 1 when a message failed in this pass or the mail server could not be reached;
    2 when it stopped before changing anything (a rehearsal database at the real clock, or
    too many messages to cancel as already started without --cancel-stale).
    """
    moment = parse_now(now)
    settings = settings_of(ctx)
    engine = engine_for(settings)
    with engine.begin() as connection:  # before sending: a pass that dies is still remembered
        record_given_now(connection, now, moment)
    where = mail_destination(settings)
    report = asyncio.run(
        dispatch_due(settings, engine, now=moment, limit=limit, cancel_stale=cancel_stale)
    )
    if as_json:
        sys.stdout.write(json.dumps(_report_document(report, moment, where), indent=2) + "\n")
    if report.held is not None:
        err.print(report.held.describe(), markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    if not as_json:
        _print_report(report, moment, where)
    if report.failed or report.deferred:
        raise typer.Exit(EXIT_NOT_DONE)


def _report_document(report: DispatchReport, moment: dt.datetime, where: str) -> dict[str, Any]:
    """`accel dispatch --json`: counts by outcome, the failed ids, replies and reasons."""
    held = report.held
    return {
        "now": utc_iso(moment),
        "mail": where,
        "counts": {
            "sent": report.sent,
            "failed": report.failed,
            "retried": report.retried,
            "cancelled": report.cancelled,
            "deferred": report.deferred,
            "reclaimed": report.reclaimed,
        },
        "failed_ids": sorted(report.failed_ids),
        "errors": [{"reply": r, "messages": n} for r, n in report.errors.most_common()],
        "cancelled_because": [
            {"reason": r, "messages": n} for r, n in report.cancelled_because.most_common()
        ],
        "held": None
        if held is None
        else {"due": held.due, "started": held.started, "reason": held.describe()},
    }


def _print_report(report: DispatchReport, moment: dt.datetime, where: str) -> None:
    """The pass in words: counts on stdout; failures, the unreachable server and cancellations
    on stderr, each pointing to what to do."""
    out.print(
        f"dispatched as of {utc_iso(moment)} to {where}: {report.sent} sent, "
        f"{report.failed} failed, {report.retried} to retry, {report.cancelled} cancelled, "
        f"{report.deferred} deferred, {report.reclaimed} reclaimed from a stopped dispatcher.",
        markup=False,
    )
    for reply, n in report.errors.most_common(5):
        err.print(f"{n} × {one_line(reply, 300)}", markup=False)
    if report.failed:
        ids = sorted(report.failed_ids)
        shown = ", ".join(map(str, ids[:FAILED_IDS_SHOWN])) + (
            " ..." if len(ids) > FAILED_IDS_SHOWN else ""
        )
        err.print(
            f"{plural(report.failed, 'message')} failed in this pass (ids {shown}): {LIST_HINT}.",
            markup=False,
        )
    if report.deferred:
        err.print(
            f"{plural(report.deferred, 'message')} not tried: the mail server could not be "
            "reached or the pass stopped early; they stay pending for the next run.",
            markup=False,
        )
    if report.cancelled:
        # Said, not just counted: an old database dispatched at the clock cancels nearly all.
        reasons = report.cancelled_because.most_common()
        why = "; ".join(f"{n} × {reason}" for reason, n in reasons)
        err.print(
            f"{plural(report.cancelled, 'message')} cancelled, their purpose gone as of "
            f"{utc_iso(moment)}: {why} (use --now to dispatch as of an earlier moment).",
            markup=False,
        )
