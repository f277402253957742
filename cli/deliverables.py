"""`accel deliverable submit` and `accel deliverables`: record submissions, see the matrix."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from accel.deliverables import (
    DeliverableStatus,
    UnknownDeliverableError,
    deliverable_matrix,
    submit_deliverable,
)
from cli.context import settings_of
from cli.options import (
    EXIT_INVALID_INPUT,
    CohortOption,
    JsonOption,
    NowOption,
    engine_for,
    err,
    exit_nothing_stored,
    load_or_exit,
    out,
    parse_now,
)

deliverable_app: typer.Typer = typer.Typer(
    help="Record deliverable submissions.", no_args_is_help=True
)

_STYLE = {
    DeliverableStatus.SUBMITTED: "green",
    DeliverableStatus.SUBMITTED_LATE: "yellow",
    DeliverableStatus.OVERDUE: "bold red",
    DeliverableStatus.DUE_SOON: "magenta",
    DeliverableStatus.UPCOMING: "",
    DeliverableStatus.CANCELLED: "dim",
}


@deliverable_app.command("submit")
def submit(
    ctx: typer.Context,
    city: Annotated[str, typer.Argument(help="City id, e.g. santiago.")],
    deliverable: Annotated[str, typer.Argument(help="Deliverable id, e.g. strategy-outline.")],
    link: Annotated[str | None, typer.Option("--link", help="Where the document is.")] = None,
    cohort: CohortOption = None,
    now: NowOption = None,
) -> None:
    """Record that CITY submitted DELIVERABLE: its reminders and escalations stop."""
    moment = parse_now(now)
    if link is not None and not link.startswith(("https://", "http://")):
        err.print(f"--link: not an http(s) URL: {link!r}", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    inputs = load_or_exit(cohort)
    engine = engine_for(settings_of(ctx))
    try:
        with engine.begin() as connection:
            key, cancelled = submit_deliverable(
                connection,
                cohort_id=inputs.cohort.id,
                city_id=city,
                deliverable=deliverable,
                link=link,
                now=moment,
            )
    except UnknownDeliverableError as error:
        err.print(f"{inputs.cohort_file}: {error}", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT) from None
    out.print(
        f"{key}: submitted at {moment:%Y-%m-%d %H:%M} UTC; {cancelled} pending notice(s) cancelled.",
        markup=False,
    )


def deliverables(
    ctx: typer.Context,
    cohort: CohortOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """The cities × deliverables matrix with each status at --now."""
    moment = parse_now(now)
    inputs = load_or_exit(cohort)
    with engine_for(settings_of(ctx)).connect() as connection:
        rows = deliverable_matrix(connection, cohort_id=inputs.cohort.id, now=moment)
    if not rows:
        exit_nothing_stored(inputs.cohort.id)
    if as_json:
        sys.stdout.write(
            json.dumps(
                [
                    {
                        "key": r.key,
                        "city": r.city_id,
                        "deliverable": r.deliverable,
                        "due_at": r.due_at.isoformat().replace("+00:00", "Z"),
                        "submitted_at": r.submitted_at.isoformat().replace("+00:00", "Z")
                        if r.submitted_at
                        else None,
                        "link": r.link,
                        "status": r.status.value,
                    }
                    for r in rows
                ],
                indent=2,
            )
            + "\n"
        )
        return
    order = list(dict.fromkeys(r.deliverable for r in rows))
    table = Table(title=f"{escape(inputs.cohort.id)}: deliverables at {moment:%Y-%m-%d %H:%M} UTC")
    table.add_column("city")
    for name in order:
        table.add_column(escape(name))
    cities: dict[str, dict[str, str]] = {}
    for r in rows:
        style = _STYLE[r.status]
        cell = r.status.value.replace("_", " ")
        cities.setdefault(r.city_id, {})[r.deliverable] = f"[{style}]{cell}[/]" if style else cell
    for city_id, cells in cities.items():
        table.add_row(escape(city_id), *(cells.get(name, "") for name in order))
    out.print(table)
