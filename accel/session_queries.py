"""Sessions and invitations in the database: what reconcile compares, the plan's writes, and
each city's sessions for the dashboard."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa

from calendars.fingerprints import fingerprint, session_content
from calendars.reconcile import Action, InvitationChange, SessionChange, StoredSession
from calendars.timeline_types import TimelineSession
from models.enums import RecordStatus
from models.tables import INVITATION, PERSON, SESSION

CANCELLED = RecordStatus.CANCELLED.value
SCHEDULED = RecordStatus.SCHEDULED.value


@dataclass(frozen=True)
class SessionInfo:
    """A scheduled session as the dashboard shows it."""

    key: str
    kind: str
    city_id: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    timezone: str
    title: Mapping[str, str]
    location: str
    meeting_url: str | None


def stored_sessions(connection: sa.Connection, *, cohort_id: str) -> dict[str, StoredSession]:
    """Every stored session of the cohort with its attendees, in two bulk queries."""
    attendees: dict[str, dict[str, tuple[bool, str]]] = {}
    for row in connection.execute(
        sa.select(
            INVITATION.c.session_key, INVITATION.c.email, INVITATION.c.required, INVITATION.c.status
        ).where(INVITATION.c.cohort_id == cohort_id)
    ):
        attendees.setdefault(row.session_key, {})[row.email] = (row.required, row.status)
    return {
        row.key: StoredSession(
            row.key,
            row.city_id,
            row.fingerprint,
            row.status,
            row.sequence,
            row.starts_at,
            row.ends_at,
            row.location,
            attendees.get(row.key, {}),
        )
        for row in connection.execute(sa.select(SESSION).where(SESSION.c.cohort_id == cohort_id))
    }


def write_session_changes(
    connection: sa.Connection,
    *,
    cohort_id: str,
    sessions: Mapping[str, TimelineSession],
    changes: list[SessionChange],
    now: dt.datetime,
) -> None:
    """Insert the added sessions (`sessions` by key), rewrite the changed, mark the cancelled."""
    added = [c for c in changes if c.action is Action.ADDED]
    if added:
        connection.execute(
            sa.insert(SESSION),
            [
                _session_values(sessions[c.key], cohort_id, now)
                | {"sequence": 0, "created_at": now}
                for c in added
            ],
        )
    for change in changes:
        if change.action in (Action.CHANGED, Action.RESTORED):
            values = _session_values(sessions[change.key], cohort_id, now)
            values.pop("key")
            connection.execute(
                sa.update(SESSION)
                .where(SESSION.c.key == change.key)
                .values(**values, sequence=change.sequence)
            )
        elif change.action is Action.CANCELLED:
            connection.execute(
                sa.update(SESSION)
                .where(SESSION.c.key == change.key)
                .values(status=CANCELLED, sequence=change.sequence, changed_at=now)
            )


def _session_values(session: TimelineSession, cohort_id: str, now: dt.datetime) -> dict[str, Any]:
    content = session_content(session)
    return {
        "key": session.key,
        "cohort_id": cohort_id,
        "series": session.series,
        "kind": session.kind.value,
        "city_id": session.city_id,
        "group_id": session.group_id,
        "decision_point": session.decision_point,
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
        "timezone": session.timezone,
        "location": session.location,
        "meeting_url": session.meeting_url,
        "language": session.language.value if session.language else None,
        "title": {k.value: v for k, v in session.title.items()},
        "description": (
            {k.value: v for k, v in session.description.items()} if session.description else None
        ),
        "reminders": content["reminders"],
        "fingerprint": fingerprint(content),
        "status": SCHEDULED,
        "changed_at": now,
    }


def write_invitation_changes(
    connection: sa.Connection,
    *,
    cohort_id: str,
    changes: list[InvitationChange],
    new_sessions: set[str],
    now: dt.datetime,
) -> None:
    """Insert new invitations, update the rest (re-invited, updated, cancelled) in place.

    `new_sessions`: keys of the sessions this plan adds, which cannot have invitations yet.
    """
    invites = [i for i in changes if i.action is Action.INVITE]
    # An invite to a session already stored may re-activate a cancelled row: update it in place.
    existing = _stored_invitations(
        connection, {(i.session_key, i.email) for i in invites if i.session_key not in new_sessions}
    )
    inserts = [
        {
            "cohort_id": cohort_id,
            "session_key": i.session_key,
            "email": i.email,
            "required": i.required,
            "status": SCHEDULED,
            "sequence": i.sequence,
            "changed_at": now,
        }
        for i in invites
        if (i.session_key, i.email) not in existing
    ]
    if inserts:
        connection.execute(sa.insert(INVITATION), inserts)
    for inv in changes:
        if inv.action is Action.INVITE and (inv.session_key, inv.email) not in existing:
            continue  # inserted above
        row_values: dict[str, Any] = {"sequence": inv.sequence, "changed_at": now}
        if inv.action in (Action.CANCEL, Action.REMOVE):
            row_values["status"] = CANCELLED
        else:
            row_values |= {"status": SCHEDULED, "required": inv.required}
        connection.execute(
            sa.update(INVITATION)
            .where(
                (INVITATION.c.session_key == inv.session_key) & (INVITATION.c.email == inv.email)
            )
            .values(**row_values)
        )


def _stored_invitations(
    connection: sa.Connection, wanted: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of the (session key, email) pairs `wanted` may concern already have a row."""
    existing: set[tuple[str, str]] = set()
    if wanted:
        for row in connection.execute(
            sa.select(INVITATION.c.session_key, INVITATION.c.email).where(
                INVITATION.c.session_key.in_({k for k, _ in wanted})
            )
        ):
            existing.add((row.session_key, row.email))
    return existing


def city_sessions(connection: sa.Connection, *, cohort_id: str) -> dict[str, list[SessionInfo]]:
    """Per city id, the scheduled sessions it takes part in: its own, and the cohort and group
    sessions any of its people is invited to; by start time."""
    sessions = {
        row.key: SessionInfo(**row._mapping)
        for row in connection.execute(
            sa.select(*(SESSION.c[f.name] for f in fields(SessionInfo)))
            .where(SESSION.c.cohort_id == cohort_id)
            .where(SESSION.c.status == SCHEDULED)
        )
    }
    taking_part: dict[str, set[str]] = {}
    for session in sessions.values():
        if session.city_id is not None:
            taking_part.setdefault(session.city_id, set()).add(session.key)
    invited = (
        sa.select(INVITATION.c.session_key, PERSON.c.city_id)
        .distinct()
        .join(
            PERSON,
            (PERSON.c.cohort_id == INVITATION.c.cohort_id) & (PERSON.c.email == INVITATION.c.email),
        )
        .where(INVITATION.c.cohort_id == cohort_id)
        .where(INVITATION.c.status == SCHEDULED)
        .where(PERSON.c.city_id.is_not(None))
    )
    for key, city_id in connection.execute(invited):
        if key in sessions:
            taking_part.setdefault(city_id, set()).add(key)
    return {
        city_id: sorted((sessions[k] for k in keys), key=lambda s: (s.starts_at, s.key))
        for city_id, keys in taking_part.items()
    }
