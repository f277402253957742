"""Timeline rows from stored sessions and deliverables (tooltips in the city's time), and their months."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Sequence

from accel.deliverables import DeliverableRow
from accel.people_queries import CityInfo
from accel.session_queries import SessionInfo
from calendars.local_time import format_local_span
from web.deliverables_table import short_local
from web.timeline_svg import STATUS_LABELS, DeadlineMark, SessionMark, TimelineRow, month_window


def timeline_row(
    city: CityInfo,
    cohort_id: str,
    sessions: Sequence[SessionInfo],
    deliverables: Sequence[DeliverableRow],
    *,
    link: bool = True,
) -> TimelineRow:
    """A city's row: sessions and deadlines with tooltips in English, in the city's own time."""
    href = f"/ops/cities/{urllib.parse.quote(city.id)}?" + urllib.parse.urlencode(
        {"cohort": cohort_id}
    )
    return TimelineRow(
        key=city.id,
        label=city.name,
        href=href if link else None,
        sessions=[
            SessionMark(
                kind=s.kind,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                label=f"{s.title.get('en', s.key)} — "
                f"{format_local_span(s.starts_at, s.ends_at, city.timezone, 'en')}",
            )
            for s in sessions
        ],
        deadlines=[
            DeadlineMark(
                status=d.status.value,
                due_at=d.due_at,
                label=f"{d.title.get('en', d.deliverable)} — due "
                f"{short_local(d.due_at, city.timezone)} ({STATUS_LABELS[d.status.value]})",
            )
            for d in deliverables
        ],
    )


def chart_window(
    sessions: Sequence[SessionInfo], deliverables: Sequence[DeliverableRow], now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """Whole months around every session and deadline given (the month of `now` if none)."""
    instants = [s.starts_at for s in sessions] + [s.ends_at for s in sessions]
    instants += [d.due_at for d in deliverables]
    return month_window(min(instants, default=now), max(instants, default=now))
