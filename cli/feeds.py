"""The `accel feeds` and `accel export` commands: secret feed URLs, and every feed as files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from accel.feed_export import export_feeds
from accel.feed_source import feed_source_from_inputs, store_feed_source
from accel.feed_store import active_people, cohort_applied, load_cohort_rows
from accel.feed_tokens import (
    FeedSubject,
    feed_urls,
    issue_missing_tokens,
    rotate_token,
    subjects_with_tokens,
)
from calendars.timeline_types import LoadedInputs
from cli.context import settings_of
from cli.options import (
    EXIT_INVALID_INPUT,
    EXIT_NOT_DONE,
    CohortOption,
    NowOption,
    engine_for,
    err,
    load_or_exit,
    out,
    parse_now,
    step,
)

feeds_app: typer.Typer = typer.Typer(
    help="Secret calendar-feed URLs per person and per city: create missing ones, list, rotate.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _require_applied(connection: sa.Connection, inputs: LoadedInputs) -> None:
    if not cohort_applied(connection, cohort_id=inputs.cohort.id):
        err.print(
            f"{inputs.cohort_file}: cohort {inputs.cohort.id!r} was never applied to the database, "
            f"so there is nothing to publish. Run `accel apply --cohort {inputs.cohort_file}` first.",
            markup=False,
        )
        raise typer.Exit(EXIT_NOT_DONE)


def _subjects(connection: sa.Connection, inputs: LoadedInputs) -> dict[FeedSubject, str]:
    """Every subject that gets a feed, with a display name: active people, then cities."""
    cohort_id = inputs.cohort.id
    rows = load_cohort_rows(connection, cohort_id=cohort_id)
    people = {
        FeedSubject(cohort_id, "person", email): rows.people[email].name
        for email in active_people(rows)
    }
    cities = {FeedSubject(cohort_id, "city", c.id): c.name for c in inputs.cohort.cities}
    return people | cities


def _print_url(base_url: str, subject: FeedSubject, name: str, token: str) -> None:
    url, webcal = feed_urls(base_url, token)
    # The same secret opens the person's or the team's page (`accel web`), in their language.
    page = f"{base_url.rstrip('/')}/{'me' if subject.subject_type == 'person' else 'city'}/{token}"
    out.print(f"{subject.subject_type} {subject.subject} ({name})", markup=False)
    out.print(f"  {url}\n  {webcal}\n  page: {page}", markup=False)


@feeds_app.callback()
def feeds(ctx: typer.Context, cohort: CohortOption = None, now: NowOption = None) -> None:
    """Create feed URLs for subjects that have none (shown once) and list every subject."""
    if ctx.invoked_subcommand is not None:
        return
    moment = parse_now(now)
    inputs = load_or_exit(cohort)
    settings = settings_of(ctx)
    with engine_for(settings).begin() as connection:
        _require_applied(connection, inputs)
        store_feed_source(connection, source=feed_source_from_inputs(inputs), now=moment)
        subjects = _subjects(connection, inputs)
        existing = subjects_with_tokens(connection, cohort_id=inputs.cohort.id)
        created = issue_missing_tokens(
            connection, cohort_id=inputs.cohort.id, subjects=subjects, now=moment
        )
    base_url = settings.public_base_url
    for subject, token in created.items():
        _print_url(base_url, subject, subjects[subject], token)
    hidden = sorted(s for s in subjects if s in existing)
    for subject in hidden:
        out.print(
            f"{subject.subject_type} {subject.subject} ({subjects[subject]}): has a URL, not shown",
            markup=False,
        )
    out.print(
        f"{inputs.cohort.id}: {len(created)} new feed URL(s), {len(hidden)} existing. "
        "Only a hash of each URL is stored, so existing URLs cannot be shown again: "
        "rotate to get a new URL (`accel feeds rotate --person EMAIL | --city ID | --all`). "
        "Anyone with a URL can read that calendar: send each one only to its owner.",
        markup=False,
    )


@feeds_app.command()
def rotate(
    ctx: typer.Context,
    person: Annotated[str | None, typer.Option("--person", help="A person's email.")] = None,
    city: Annotated[str | None, typer.Option("--city", help="A city id, e.g. santiago.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every person and city.")] = False,
    cohort: CohortOption = None,
    now: NowOption = None,
) -> None:
    """Revoke a feed URL and print its replacement; the old URL answers 404 from now on."""
    if sum([person is not None, city is not None, every]) != 1:
        err.print("give exactly one of --person EMAIL, --city ID or --all", markup=False)
        raise typer.Exit(EXIT_INVALID_INPUT)
    moment = parse_now(now)
    inputs = load_or_exit(cohort)
    cohort_id = inputs.cohort.id
    settings = settings_of(ctx)
    with engine_for(settings).begin() as connection:
        _require_applied(connection, inputs)
        store_feed_source(connection, source=feed_source_from_inputs(inputs), now=moment)
        subjects = _subjects(connection, inputs)
        chosen = sorted(subjects)
        if not every:
            wanted = (
                FeedSubject(cohort_id, "person", person.strip().lower())
                if person is not None
                else FeedSubject(cohort_id, "city", str(city))
            )
            if wanted not in subjects:
                err.print(
                    f"{inputs.cohort_file}: no active {wanted.subject_type} {wanted.subject!r} "
                    f"in cohort {cohort_id!r}",
                    markup=False,
                )
                raise typer.Exit(EXIT_INVALID_INPUT)
            chosen = [wanted]
        tokens = {s: rotate_token(connection, subject=s, now=moment) for s in chosen}
    base_url = settings.public_base_url
    for subject, token in tokens.items():
        _print_url(base_url, subject, subjects[subject], token)
    out.print(f"{len(tokens)} feed URL(s) rotated; the old ones no longer work.", markup=False)


def export(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write calendars/ into.")],
    cohort: CohortOption = None,
    now: NowOption = None,
) -> None:
    """Write every feed as .ics files: calendars/cohort.ics, cities/<id>.ics, people/<email>.ics."""
    moment = parse_now(now)
    inputs = load_or_exit(cohort)
    root = out_dir / "calendars"
    with engine_for(settings_of(ctx)).connect() as connection:
        _require_applied(connection, inputs)
        with step("building and writing the feeds"):
            counts = export_feeds(connection, inputs=inputs, root=root, now=moment)
    out.print(
        f"wrote {sum(counts.values())} feed(s) to {root}: the cohort, {counts['city']} "
        f"cities, {counts['person']} people.",
        markup=False,
    )
