"""Operator overrides on top of the expanded timeline: a session moved or cancelled by hand.

Overrides are desired state too: they are stored, and every plan and apply lays them over the
files' timeline, so a later apply of unchanged files never undoes an operator's move.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from calendars.timeline_types import Timeline


@dataclass(frozen=True)
class SessionOverride:
    session_key: str
    starts_at: dt.datetime | None = None  # moved: the new start, the duration is kept
    cancelled: bool = False


def apply_overrides(timeline: Timeline, overrides: list[SessionOverride]) -> Timeline:
    """A copy of `timeline` with sessions moved or removed (a removed session gets cancelled)."""
    if not overrides:
        return timeline
    by_key = {o.session_key: o for o in overrides}
    sessions = []
    for session in timeline.sessions:
        override = by_key.get(session.key)
        if override is None:
            sessions.append(session)
        elif override.cancelled:
            continue
        elif override.starts_at is not None:
            length = session.ends_at - session.starts_at
            sessions.append(
                dataclasses.replace(
                    session, starts_at=override.starts_at, ends_at=override.starts_at + length
                )
            )
        else:
            sessions.append(session)
    sessions.sort(key=lambda s: (s.starts_at, s.key))
    cancelled = {o.session_key for o in overrides if o.cancelled}
    moved = {s.key: s for s in sessions if s.key in by_key}
    points = [
        dataclasses.replace(
            p,
            notify_at=moved[p.checkin_session].starts_at
            - (_original_start(timeline, p.checkin_session) - p.notify_at),
        )
        if p.checkin_session in moved
        else p
        for p in timeline.decision_points
        if p.checkin_session not in cancelled
    ]
    return dataclasses.replace(timeline, sessions=sessions, decision_points=points)


def _original_start(timeline: Timeline, key: str) -> dt.datetime:
    return next(s.starts_at for s in timeline.sessions if s.key == key)
