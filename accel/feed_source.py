"""The stored feed source of a cohort: program id (for UIDs), names and refresh, from the files."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from calendars.feed_content import FeedCity, FeedSource
from calendars.timeline_types import LoadedInputs
from models.feed_tokens import FEED_SOURCE


def feed_source_from_inputs(inputs: LoadedInputs) -> FeedSource:
    """The feed source as the cohort and program files describe it (not yet stored)."""
    return FeedSource(
        cohort_id=inputs.cohort.id,
        program_id=inputs.program.id,
        program_name={str(k): v for k, v in inputs.program.name.items()},
        refresh=inputs.program.feed_refresh,
        cities={
            c.id: FeedCity(id=c.id, name=c.name, language=c.language.value)
            for c in inputs.cohort.cities
        },
    )


def store_feed_source(
    connection: sa.Connection, *, source: FeedSource, now: dt.datetime
) -> FeedSource:
    """Insert or update the cohort's feed source; `changed_at` moves only if the content differs."""
    values = _source_values(source)
    stored = load_feed_source(connection, cohort_id=source.cohort_id)
    if stored is not None and _source_values(stored) == values:
        return stored
    if stored is None:
        connection.execute(sa.insert(FEED_SOURCE).values(**values, changed_at=now))
    else:
        # Never backwards: Last-Modified is derived from it (Apple revalidates by date).
        now = max(now, stored.changed_at or now)
        connection.execute(
            sa.update(FEED_SOURCE)
            .where(FEED_SOURCE.c.cohort_id == source.cohort_id)
            .values(**values, changed_at=now)
        )
    return replace(source, changed_at=now)


def load_feed_source(connection: sa.Connection, *, cohort_id: str) -> FeedSource | None:
    row = connection.execute(
        sa.select(FEED_SOURCE).where(FEED_SOURCE.c.cohort_id == cohort_id)
    ).first()
    if row is None:
        return None
    return FeedSource(
        cohort_id=row.cohort_id,
        program_id=row.program_id,
        program_name=dict(row.program_name),
        refresh=dt.timedelta(seconds=row.refresh_seconds),
        cities={
            city_id: FeedCity(id=city_id, name=city["name"], language=city["language"])
            for city_id, city in row.cities.items()
        },
        changed_at=row.changed_at,
    )


def _source_values(source: FeedSource) -> dict[str, Any]:
    return {
        "cohort_id": source.cohort_id,
        "program_id": source.program_id,
        "program_name": dict(source.program_name),
        "refresh_seconds": int(source.refresh.total_seconds()),
        "cities": {c.id: {"name": c.name, "language": c.language} for c in source.cities.values()},
    }
