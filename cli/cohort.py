"""`accel validate`, `plan`, `apply` and `timeline`: check a cohort, write it, see a city's dates."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from calendars.reconcile import Plan
from calendars.slots import to_local
from calendars.timeline_types import LoadedInputs
from cli.context import settings_of
from cli.options import (
    EXIT_INVALID_INPUT,
    CohortOption,
    JsonOption,
    NowOption,
    engine_for,
    err,
    load_or_exit,
    out,
    parse_now,
    record_given_now,
    step,
)
from models.cohort_file import City
from models.file_types import localized
from tasks.operations import apply_cohort, plan_cohort, with_overrides


def validate(cohort: CohortOption = None) -> None:
    """Check the cohort file and its program; print every problem, one per line."""
    inputs = load_or_exit(cohort)
    timeline = inputs.timeline
    out.print(
        f"{inputs.cohort_file} and {inputs.program_file} are valid: {len(inputs.cohort.cities)} "
        f"cities, {len(timeline.sessions)} sessions, {len(timeline.deliverables)} deliverables, "
        f"{len(inputs.warnings)} warning(s).",
        markup=False,
    )


def _print_plan(plan: Plan, *, as_json: bool, applied: bool) -> None:
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "cohort": plan.cohort_id,
                    "applied": applied,
                    "now": plan.now.isoformat().replace("+00:00", "Z"),
                    "changes": plan.changes(),
                    "past_unchanged": plan.past_unchanged,
                },
                indent=2,
            )
            + "\n"
        )
        return
    if plan.is_empty:
        out.print(f"{plan.cohort_id}: nothing to change at {_utc(plan.now)}.", markup=False)
    else:
        title = f"{escape(plan.cohort_id)}: {'applied' if applied else 'plan'} at {_utc(plan.now)}"
        table = Table(title=title)
        table.add_column("city")
        table.add_column("changes")
        for city, counts in sorted(plan.counts_by_city().items()):
            changes = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
            table.add_row(escape(city), escape(changes))
        out.print(table)
    if plan.past_unchanged:
        out.print(
            f"{len(plan.past_unchanged)} session(s) already started at --now are left as they were."
        )
    if started := plan.added_already_started:
        err.print(
            f"warning: {len(started)} new session(s) had already started at {_utc(plan.now)}: "
            "they are stored, but nobody is invited to them.",
            markup=False,
        )


def refuse_a_finished_program(inputs: LoadedInputs, now: dt.datetime, given: str | None) -> None:
    """Exit 2 when, at the real clock, every session has started: an `apply` would store the
    whole program as past and invite nobody, and a later `apply --now` could not undo that."""
    sessions = inputs.timeline.sessions
    if given is not None or not sessions or any(s.starts_at > now for s in sessions):
        return
    last = max(s.starts_at for s in sessions)
    err.print(
        f"{inputs.cohort_file}: every session of {inputs.cohort.id} started by now "
        f"({_utc(now)}; the last on {_utc(last)}): applying would invite nobody. "
        "Pass --now to act at an earlier moment, e.g. --now 2024-05-01T13:00Z.",
        markup=False,
    )
    raise typer.Exit(EXIT_INVALID_INPUT)


def plan(
    ctx: typer.Context,
    cohort: CohortOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what `apply` would change in the database, per city, without writing anything."""
    moment = parse_now(now)
    inputs = load_or_exit(cohort)
    with step("comparing with the database"):
        result = plan_cohort(engine_for(settings_of(ctx)), inputs, now=moment)
    _print_plan(result, as_json=as_json, applied=False)


def apply(
    ctx: typer.Context,
    cohort: CohortOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the plan in one transaction. Applying the same files twice changes nothing."""
    moment = parse_now(now)
    inputs = load_or_exit(cohort)
    refuse_a_finished_program(inputs, moment, now)
    engine = engine_for(settings_of(ctx))
    with engine.begin() as connection:  # before acting: a crash mid-apply is still a rehearsal
        record_given_now(connection, now, moment)
    with step("reconciling and writing in one transaction"):
        result = apply_cohort(engine, inputs, now=moment)
    _print_plan(result, as_json=as_json, applied=True)


def timeline(
    ctx: typer.Context,
    city: Annotated[str, typer.Option("--city", help="City id, e.g. santiago.")],
    cohort: CohortOption = None,
    as_json: JsonOption = False,
) -> None:
    """A city's whole timeline in its local time (sessions and deliverable deadlines), with
    the operators' moves and cancellations stored in the database."""
    files = load_or_exit(cohort)
    with engine_for(settings_of(ctx)).connect() as connection:
        inputs = with_overrides(connection, files)
    found = next((c for c in inputs.cohort.cities if c.id == city), None)
    if found is None:
        ids = ", ".join(c.id for c in inputs.cohort.cities)
        err.print(f"{inputs.cohort_file}: cities: no city {city!r} (cities: {ids})", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    rows = _timeline_rows(inputs, found)
    if as_json:
        document = {"city": city, "timezone": found.timezone, "items": rows}
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    _print_timeline(found, rows)
    if inputs is not files:
        out.print("Includes the operators' session moves and cancellations.", markup=False)


def _timeline_rows(inputs: LoadedInputs, city: City) -> list[dict[str, Any]]:
    """The city's sessions (its own, and those its people attend) and its deliverables, by start."""
    people = inputs.timeline.people
    city_emails = {p.key for p in people.values() if p.city_id == city.id}
    rows: list[dict[str, Any]] = []
    for session in inputs.timeline.sessions:
        if session.city_id != city.id and not city_emails & {a.person for a in session.attendees}:
            continue
        rows.append(
            {
                "type": "session",
                "key": session.key,
                "kind": session.kind.value,
                "title": localized(session.title, city.language),
                "starts_at": _utc(session.starts_at),
                "ends_at": _utc(session.ends_at),
                "local_start": to_local(session.starts_at, city.timezone).isoformat(),
                "local_end": to_local(session.ends_at, city.timezone).isoformat(),
                "timezone": city.timezone,
                "location": session.location,
                "attendees": [a.person for a in session.attendees if a.person in city_emails],
            }
        )
    for item in inputs.timeline.deliverables:
        if item.city_id == city.id:
            rows.append(
                {
                    "type": "deliverable",
                    "key": item.key,
                    "kind": "deliverable",
                    "title": localized(item.title, city.language),
                    "starts_at": _utc(item.due_at),
                    "ends_at": None,
                    "local_start": to_local(item.due_at, city.timezone).isoformat(),
                    "local_end": None,
                    "timezone": city.timezone,
                    "location": "",
                    "owners": list(item.owners),
                }
            )
    rows.sort(key=lambda r: (r["starts_at"], r["key"]))
    return rows


def _print_timeline(city: City, rows: list[dict[str, Any]]) -> None:
    """The rows as a table of local dates and hours."""
    table = Table(title=f"{escape(city.name)} ({city.timezone}), all times local")
    for column in ("date", "time", "what", "title"):
        table.add_column(column)
    for row in rows:
        start = dt.datetime.fromisoformat(row["local_start"])
        end = dt.datetime.fromisoformat(row["local_end"]) if row["local_end"] else None
        hours = (
            f"{start:%H:%M}–{end:%H:%M}"
            if end and end.date() == start.date()
            else (f"{start:%H:%M} → {end:%a %d %b %H:%M}" if end else f"due {start:%H:%M}")
        )
        table.add_row(
            f"{start:%a %Y-%m-%d}", f"{hours} {start:%Z}", row["kind"], escape(row["title"])
        )
    out.print(table)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
