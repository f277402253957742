"""`accel validate`, `plan`, `apply` and `timeline`: check a cohort, write it, see a city's dates."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from accel.session_overrides import StoredOverrideError, load_overrides
from calendars.overrides import SessionOverride
from calendars.reconcile import Plan
from calendars.slots import to_local
from calendars.timeline_types import LoadedInputs, Timeline, TimelineSession
from cli.context import settings_of
from cli.options import (
    EXIT_INVALID_INPUT,
    EXIT_NOT_DONE,
    CohortOption,
    JsonOption,
    NowOption,
    engine_for,
    engine_for_reading,
    err,
    load_or_exit,
    out,
    parse_now,
    record_given_now,
    step,
)
from models.cohort_file import City
from models.file_types import localized
from models.printable import printable
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
                    "messages": plan.message_counts(),
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
        emails = plan.message_counts()
        # At most: a removal or cancellation goes only to someone already sent the invitation.
        listed = ", ".join(f"{n} {kind}" for kind, n in emails.items())
        out.print(f"notices to queue (at most): {listed}")
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


@contextmanager
def _stored_overrides_usable() -> Iterator[None]:
    """A stored move the engine cannot lay over the files (written before moves were bounded):
    one line naming it and the command that removes it, exit 1, instead of a traceback."""
    try:
        yield
    except StoredOverrideError as error:
        err.print(f"accel: {error}", markup=False)
        raise typer.Exit(EXIT_NOT_DONE) from None


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
    with step("comparing with the database"), _stored_overrides_usable():
        result = plan_cohort(engine_for_reading(settings_of(ctx)), inputs, now=moment)
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
    with step("reconciling and writing in one transaction"), _stored_overrides_usable():
        result = apply_cohort(engine, inputs, now=moment)
    _print_plan(result, as_json=as_json, applied=True)


def timeline(
    ctx: typer.Context,
    city: Annotated[str, typer.Option("--city", help="City id, e.g. santiago.")],
    cohort: CohortOption = None,
    as_json: JsonOption = False,
) -> None:
    """A city's whole timeline in its local time (sessions and deliverable deadlines), with
    the operators' moves ("moved from" the files' time) and cancellations marked."""
    files = load_or_exit(cohort)
    with engine_for(settings_of(ctx)).connect() as connection, _stored_overrides_usable():
        overrides = load_overrides(connection, cohort_id=files.cohort.id)
        inputs = with_overrides(connection, files)
    found = next((c for c in inputs.cohort.cities if c.id == city), None)
    if found is None:
        ids = ", ".join(c.id for c in inputs.cohort.cities)
        err.print(f"{inputs.cohort_file}: cities: no city {city!r} (cities: {ids})", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    rows = _timeline_rows(inputs, found, files_timeline=files.timeline, overrides=overrides)
    if as_json:
        document = {"city": city, "timezone": found.timezone, "items": rows}
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    _print_timeline(found, rows)
    if overrides:
        out.print("Includes the operators' session moves and cancellations.", markup=False)


def _session_row(
    session: TimelineSession, city: City, status: str, moved_from: dt.datetime | None
) -> dict[str, Any]:
    """One session as `accel timeline` shows it; `status` scheduled, moved or cancelled."""
    return {
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
        "status": status,
        "moved_from": _utc(moved_from) if moved_from else None,
        "moved_from_local": to_local(moved_from, city.timezone).isoformat() if moved_from else None,
    }


def _timeline_rows(
    inputs: LoadedInputs,
    city: City,
    *,
    files_timeline: Timeline,
    overrides: list[SessionOverride],
) -> list[dict[str, Any]]:
    """The city's sessions (its own, and those its people attend, with the operators' moves
    and cancellations marked) and its deliverables, by start."""
    people = inputs.timeline.people
    city_emails = {p.key for p in people.values() if p.city_id == city.id}
    in_files = {s.key: s for s in files_timeline.sessions}
    cancelled = {o.session_key for o in overrides if o.cancelled}
    shown = list(inputs.timeline.sessions) + [
        in_files[k] for k in sorted(cancelled) if k in in_files
    ]
    rows: list[dict[str, Any]] = []
    for session in shown:
        if session.city_id != city.id and not city_emails & {a.person for a in session.attendees}:
            continue
        original = in_files.get(session.key)
        if session.key in cancelled:
            status, moved_from = "cancelled", None
        elif original is not None and original.starts_at != session.starts_at:
            status, moved_from = "moved", original.starts_at
        else:
            status, moved_from = "scheduled", None
        row = _session_row(session, city, status, moved_from)
        row["attendees"] = [a.person for a in session.attendees if a.person in city_emails]
        rows.append(row)
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


def _change_mark(row: dict[str, Any]) -> str:
    """`moved from Tue 2024-09-10 13:00 UTC-03:00`, `cancelled`, or nothing."""
    if row.get("status") == "cancelled":
        return "cancelled"
    if row.get("moved_from_local"):
        was = dt.datetime.fromisoformat(row["moved_from_local"])
        return f"moved from {was:%a %Y-%m-%d %H:%M %Z}"
    return ""


def _print_timeline(city: City, rows: list[dict[str, Any]]) -> None:
    """The rows as a table of local dates and hours, the operators' changes marked."""
    table = Table(title=f"{escape(printable(city.name))} ({city.timezone}), all times local")
    marks = [_change_mark(row) for row in rows]
    for column in ("date", "time", "what", "title") + (("change",) if any(marks) else ()):
        table.add_column(column)
    for row, mark in zip(rows, marks, strict=True):
        start = dt.datetime.fromisoformat(row["local_start"])
        end = dt.datetime.fromisoformat(row["local_end"]) if row["local_end"] else None
        hours = (
            f"{start:%H:%M}–{end:%H:%M}"
            if end and end.date() == start.date()
            else (f"{start:%H:%M} → {end:%a %d %b %H:%M}" if end else f"due {start:%H:%M}")
        )
        cells = [
            f"{start:%a %Y-%m-%d}",
            f"{hours} {start:%Z}",
            row["kind"],
            escape(printable(row["title"])),
        ]
        style = "dim" if row.get("status") == "cancelled" else None
        table.add_row(*cells, *([mark] if any(marks) else []), style=style)
    out.print(table)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
