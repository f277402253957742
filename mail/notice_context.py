"""The template context of a deliverable or decision-point notice, read from the stored rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from mail.templates import DecisionDeliverableState, localized
from models.enums import RecordStatus
from models.outbox import MessageKind
from models.tables import (
    CITY,
    DECISION,
    DELIVERABLE,
    PERSON,
    SESSION,
)

NOTICE_KINDS = frozenset(
    {
        MessageKind.DELIVERABLE_DUE,
        MessageKind.DELIVERABLE_OVERDUE,
        MessageKind.OVERDUE_ESCALATION_COACH,
        MessageKind.OVERDUE_ESCALATION_MAYOR,
        MessageKind.DECISION_POINT,
    }
)


class NoticeObsoleteError(Exception):
    """The notice lost its purpose before it could be sent (submitted, cancelled, past)."""


def _one(connection: sa.Connection, table: sa.Table, *where: Any) -> Any:
    row = connection.execute(sa.select(table).where(*where)).first()
    if row is None:
        raise LookupError(f"{table.name}: no row for {where}")
    return row


def _person(connection: sa.Connection, cohort_id: str, email: str) -> Any:
    return _one(connection, PERSON, PERSON.c.cohort_id == cohort_id, PERSON.c.email == email)


def notice_context(
    connection: sa.Connection, *, row: Any, recipient: Any, date: dt.datetime
) -> dict[str, Any]:
    """The template context of a notice row beyond recipient, sender and program."""
    if row.kind == MessageKind.DECISION_POINT:
        return _decision_context(connection, row=row, language=recipient.language, date=date)
    return _deliverable_context(connection, row=row, language=recipient.language, date=date)


def _decision_context(
    connection: sa.Connection, *, row: Any, language: str, date: dt.datetime
) -> dict[str, Any]:
    point = _one(connection, DECISION, DECISION.c.key == row.subject_key)
    city = _one(connection, CITY, CITY.c.cohort_id == row.cohort_id, CITY.c.id == point.city_id)
    checkin = _one(connection, SESSION, SESSION.c.key == point.checkin_session)
    if checkin.status == RecordStatus.CANCELLED or checkin.starts_at <= date:
        raise NoticeObsoleteError("the check-in was cancelled or has started")
    items = connection.execute(
        sa.select(DELIVERABLE)
        .where(DELIVERABLE.c.key.in_(point.deliverables))
        .order_by(DELIVERABLE.c.due_at)
    )
    return {
        "city": {"name": city.name},
        "decision": {
            "title": localized(point.title, language),
            "question": localized(point.decide, language),
        },
        "checkin": {
            "title": localized(checkin.title, language),
            "starts_at": checkin.starts_at,
            "ends_at": checkin.ends_at,
            "meeting_url": checkin.meeting_url,
        },
        "deliverables": [
            {
                "title": localized(d.title, language),
                "due_at": d.due_at,
                "status": (
                    DecisionDeliverableState.COMPLETED
                    if d.submitted_at is not None
                    else DecisionDeliverableState.OVERDUE
                    if d.due_at < date
                    else DecisionDeliverableState.PENDING
                ).value,
                # Stored when the team submitted (`accel deliverable submit --link`).
                "link": d.link if d.submitted_at is not None else None,
            }
            for d in items
        ],
    }


def _deliverable_context(
    connection: sa.Connection, *, row: Any, language: str, date: dt.datetime
) -> dict[str, Any]:
    item = _one(connection, DELIVERABLE, DELIVERABLE.c.key == row.subject_key)
    if item.submitted_at is not None or item.status == RecordStatus.CANCELLED:
        raise NoticeObsoleteError("the deliverable was submitted or cancelled")
    city = _one(connection, CITY, CITY.c.cohort_id == row.cohort_id, CITY.c.id == item.city_id)
    coach = _person(connection, row.cohort_id, city.coach_email)
    owners = [_person(connection, row.cohort_id, email) for email in item.owners]
    return {
        "city": {"name": city.name},
        "deliverable": {
            "title": localized(item.title, language),
            "due_at": item.due_at,
            "owners": [{"name": o.name, "email": o.email} for o in owners],
        },
        "coach": {"name": coach.name, "email": coach.email},
        "days_overdue": max((date - item.due_at).days, 0),
    }
