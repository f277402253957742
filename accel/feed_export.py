"""Write every feed of a cohort as .ics files (for `accel export`, `simulate` and `demo`)."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from accel.feed_source import feed_source_from_inputs
from accel.feed_store import every_feed, load_cohort_rows
from calendars.timeline_types import LoadedInputs


def export_path(root: Path, kind: str, subject: str) -> Path:
    if kind == "cohort":
        return root / "cohort.ics"
    if kind == "city":
        return root / "cities" / f"{subject}.ics"
    # Emails may hold characters that are unsafe in file names ("/" among them): percent-encode.
    return root / "people" / f"{urllib.parse.quote(subject, safe='@._-')}.ics"


def export_feeds(
    connection: sa.Connection, *, inputs: LoadedInputs, root: Path, now: dt.datetime
) -> Counter[str]:
    """`root/cohort.ics`, `root/cities/<id>.ics`, `root/people/<email>.ics`; counts by kind."""
    source = feed_source_from_inputs(inputs)
    rows = load_cohort_rows(connection, cohort_id=inputs.cohort.id)
    counts: Counter[str] = Counter()
    for kind, subject, feed in every_feed(rows, source=source, now=now):
        path = export_path(root, kind, subject)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(feed.body)
        counts[kind] += 1
    return counts
