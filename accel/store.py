"""Reading the stored state of a cohort and writing a reconcile plan, in one transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from calendars.reconcile import (
    Action,
    Plan,
    StoredItem,
    StoredSession,
    StoredState,
    fingerprint,
    session_content,
)
from calendars.timeline_types import Timeline, TimelineSession
from models.cohort_file import Cohort
from models.enums import RecordStatus
from models.tables import (
    CITY,
    DECISION,
    DELIVERABLE,
    INVITATION,
    PERSON,
    SESSION,
)

CANCELLED = RecordStatus.CANCELLED.value
SCHEDULED = RecordStatus.SCHEDULED.value


def load_state(connection: sa.Connection, *, cohort_id: str) -> StoredState:
    """Everything reconcile compares against, read with a few bulk queries."""
    state = StoredState()
    attendees: dict[str, dict[str, tuple[bool, str]]] = {}
    for row in connection.execute(
        sa.select(
            INVITATION.c.session_key, INVITATION.c.email, INVITATION.c.required, INVITATION.c.status
        ).where(INVITATION.c.cohort_id == cohort_id)
    ):
        attendees.setdefault(row.session_key, {})[row.email] = (row.required, row.status)
    for row in connection.execute(sa.select(SESSION).where(SESSION.c.cohort_id == cohort_id)):
        state.sessions[row.key] = StoredSession(
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
    state.deliverables = _items(connection, DELIVERABLE, cohort_id, deliverable_content_of_row)
    state.decision_points = _items(connection, DECISION, cohort_id, decision_content_of_row)
    state.people = {
        row.email: StoredItem(
            fingerprint(person_content_of_row(row)), SCHEDULED if row.active else CANCELLED
        )
        for row in connection.execute(sa.select(PERSON).where(PERSON.c.cohort_id == cohort_id))
    }
    return state


def person_content_of_row(row: Any) -> dict[str, Any]:
    """Mirrors `calendars.reconcile.person_content` for a stored row."""
    return {
        "name": row.name,
        "language": row.language,
        "timezone": row.timezone,
        "role": row.role,
        "city_id": row.city_id,
    }


def deliverable_content_of_row(row: Any) -> dict[str, Any]:
    return {
        "due_at": row.due_at.isoformat(),
        "owners": list(row.owners),
        "title": row.title,
        "reminders": list(row.reminders),
    }


def decision_content_of_row(row: Any) -> dict[str, Any]:
    return {
        "title": row.title,
        "decide": row.decide,
        "notify_at": row.notify_at.isoformat(),
        "checkin": row.checkin_session,
        "deliverables": list(row.deliverables),
    }


def _items(
    connection: sa.Connection, table: sa.Table, cohort_id: str, content: Any
) -> dict[str, StoredItem]:
    return {
        row.key: StoredItem(fingerprint(content(row)), row.status)
        for row in connection.execute(sa.select(table).where(table.c.cohort_id == cohort_id))
    }


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


def apply_plan(connection: sa.Connection, *, timeline: Timeline, plan: Plan) -> None:
    """Write `plan`; the caller owns the transaction (so a failure leaves nothing behind)."""
    now = plan.now
    cohort = timeline.cohort_id
    _apply_people(connection, timeline, plan)
    by_key = {s.key: s for s in timeline.sessions}
    added = [c for c in plan.sessions if c.action is Action.ADDED]
    if added:
        connection.execute(
            sa.insert(SESSION),
            [
                _session_values(by_key[c.key], cohort, now) | {"sequence": 0, "created_at": now}
                for c in added
            ],
        )
    for change in plan.sessions:
        if change.action in (Action.CHANGED, Action.RESTORED):
            values = _session_values(by_key[change.key], cohort, now)
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
    added_keys = {c.key for c in added}
    invites = [i for i in plan.invitations if i.action is Action.INVITE]
    # An invite to a session already stored may re-activate a cancelled row: update it in place.
    reinvited = {(i.session_key, i.email) for i in invites if i.session_key not in added_keys}
    existing: set[tuple[str, str]] = set()
    if reinvited:
        for row in connection.execute(
            sa.select(INVITATION.c.session_key, INVITATION.c.email).where(
                INVITATION.c.session_key.in_({k for k, _ in reinvited})
            )
        ):
            existing.add((row.session_key, row.email))
    inserts = [
        {
            "cohort_id": cohort,
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
    for inv in plan.invitations:
        if inv.action is Action.INVITE and (inv.session_key, inv.email) not in existing:
            continue  # inserted above
        row_values: dict[str, Any] = {"sequence": inv.sequence, "changed_at": now}
        if inv.action is Action.CANCEL:
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
    _apply_items(
        connection,
        DELIVERABLE,
        plan.deliverables,
        {
            d.key: {
                "key": d.key,
                "cohort_id": cohort,
                "city_id": d.city_id,
                "deliverable": d.deliverable,
                "title": {k.value: v for k, v in d.title.items()},
                "due_at": d.due_at,
                "owners": list(d.owners),
                "reminders": [int(r.total_seconds()) for r in d.reminders],
            }
            for d in timeline.deliverables
        },
        now,
    )
    _apply_items(
        connection,
        DECISION,
        plan.decision_points,
        {
            d.key: {
                "key": d.key,
                "cohort_id": cohort,
                "city_id": d.city_id,
                "decision_point": d.decision_point,
                "title": {k.value: v for k, v in d.title.items()},
                "decide": {k.value: v for k, v in d.decide.items()},
                "checkin_session": d.checkin_session,
                "notify_at": d.notify_at,
                "deliverables": list(d.deliverables),
            }
            for d in timeline.decision_points
        },
        now,
    )


def _apply_items(
    connection: sa.Connection,
    table: sa.Table,
    changes: list[Any],
    values: dict[str, dict[str, Any]],
    now: dt.datetime,
) -> None:
    inserts = [
        values[c.key] | {"status": SCHEDULED, "changed_at": now}
        for c in changes
        if c.action is Action.ADDED
    ]
    if inserts:
        connection.execute(sa.insert(table), inserts)
    for change in changes:
        if change.action in (Action.CHANGED, Action.RESTORED):
            row = dict(values[change.key])
            row.pop("key")
            connection.execute(
                sa.update(table)
                .where(table.c.key == change.key)
                .values(**row, status=SCHEDULED, changed_at=now)
            )
        elif change.action is Action.CANCELLED:
            connection.execute(
                sa.update(table)
                .where(table.c.key == change.key)
                .values(status=CANCELLED, changed_at=now)
            )


def save_cities(connection: sa.Connection, *, cohort: Cohort, now: dt.datetime) -> None:
    """Replace the stored cities of `cohort` with the file's (a handful of rows, always fresh)."""
    rows = [
        {
            "cohort_id": cohort.id,
            "id": c.id,
            "name": c.name,
            "country": c.country,
            "timezone": c.timezone,
            "language": c.language.value,
            "coach_email": cohort.coach(c.coach).email,
            "mayor_email": c.mayor.email,
            "changed_at": now,
        }
        for c in cohort.cities
    ]
    stored = {
        (r.id, r.name, r.country, r.timezone, r.language, r.coach_email, r.mayor_email)
        for r in connection.execute(sa.select(CITY).where(CITY.c.cohort_id == cohort.id))
    }
    wanted = {
        (
            r["id"],
            r["name"],
            r["country"],
            r["timezone"],
            r["language"],
            r["coach_email"],
            r["mayor_email"],
        )
        for r in rows
    }
    if stored != wanted:
        connection.execute(sa.delete(CITY).where(CITY.c.cohort_id == cohort.id))
        connection.execute(sa.insert(CITY), rows)


def _apply_people(connection: sa.Connection, timeline: Timeline, plan: Plan) -> None:
    cohort, now = timeline.cohort_id, plan.now
    inserts = []
    for change in plan.people:
        where = (PERSON.c.cohort_id == cohort) & (PERSON.c.email == change.key)
        if change.action is Action.CANCELLED:
            connection.execute(sa.update(PERSON).where(where).values(active=False, changed_at=now))
            continue
        person = timeline.people[change.key]
        values = {
            "name": person.name,
            "language": person.language.value,
            "timezone": person.timezone,
            "role": person.role,
            "city_id": person.city_id,
            "active": True,
            "changed_at": now,
        }
        if change.action is Action.ADDED:
            inserts.append({"cohort_id": cohort, "email": person.key, **values})
        else:
            connection.execute(sa.update(PERSON).where(where).values(**values))
    if inserts:
        connection.execute(sa.insert(PERSON), inserts)
