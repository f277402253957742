"""What makes a session, deliverable, decision point or person differ: content and its hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from calendars.timeline_types import Person, TimelineDeliverable, TimelineSession


def fingerprint(payload: Any) -> str:
    """A short stable hash of JSON-able content, to detect changes cheaply."""
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def session_content(session: TimelineSession) -> dict[str, Any]:
    """What makes a session different for its attendees (attendees are compared separately)."""
    return {
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
        "timezone": session.timezone,
        "location": session.location,
        "meeting_url": session.meeting_url,
        "title": session.title,
        "description": session.description,
        "language": session.language,
        "reminders": [int(r.total_seconds()) for r in session.reminders],
        "kind": session.kind.value,
    }


def deliverable_content(item: TimelineDeliverable) -> dict[str, Any]:
    return {
        "due_at": item.due_at.isoformat(),
        "owners": list(item.owners),
        "title": item.title,
        "reminders": [int(r.total_seconds()) for r in item.reminders],
    }


class DecisionPointFields(Protocol):
    """What a decision point's content reads: a timeline's, or a stored row's (same names)."""

    @property
    def title(self) -> Mapping[Any, str]: ...
    @property
    def decide(self) -> Mapping[Any, str]: ...
    @property
    def notify_at(self) -> dt.datetime: ...
    @property
    def checkin_session(self) -> str: ...
    @property
    def deliverables(self) -> Sequence[str]: ...


def decision_point_content(item: DecisionPointFields) -> dict[str, Any]:
    return {
        "title": item.title,
        "decide": item.decide,
        "notify_at": item.notify_at.isoformat(),
        "checkin": item.checkin_session,
        "deliverables": list(item.deliverables),
    }


def person_content(person: Person) -> dict[str, Any]:
    content: dict[str, Any] = {
        "name": person.name,
        "language": person.language.value,
        "timezone": person.timezone,
        "role": person.role,
        "city_id": person.city_id,
    }
    if addressing := person.addressing_json():  # absent: the fingerprint stays as before
        content["addressing"] = addressing
    return content
