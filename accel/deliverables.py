"""Deliverables and decision points in the database: the plan's writes, submissions, and the
cities × deliverables status matrix."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from accel.outbox_queries import cancel_pending_notices
from calendars.fingerprints import decision_point_content, fingerprint
from calendars.reconcile import Action, ItemChange, StoredItem
from calendars.timeline_types import TimelineDecisionPoint, TimelineDeliverable
from models.enums import RecordStatus
from models.tables import DECISION, DELIVERABLE

CANCELLED = RecordStatus.CANCELLED.value
SCHEDULED = RecordStatus.SCHEDULED.value

DUE_SOON = dt.timedelta(days=7)
DELIVERABLE_NOTICE_KINDS = (
    "deliverable_due",
    "deliverable_overdue",
    "overdue_escalation_coach",
    "overdue_escalation_mayor",
)


class DeliverableStatus(StrEnum):
    SUBMITTED = "submitted"
    SUBMITTED_LATE = "submitted_late"
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    UPCOMING = "upcoming"
    CANCELLED = "cancelled"


class UnknownDeliverableError(LookupError):
    """No such city or deliverable in the applied cohort."""


@dataclass(frozen=True)
class DeliverableRow:
    key: str
    city_id: str
    deliverable: str
    title: dict[str, str]
    due_at: dt.datetime
    submitted_at: dt.datetime | None
    link: str | None
    status: DeliverableStatus
    owners: tuple[str, ...]  # emails


def status_at(
    due_at: dt.datetime, submitted_at: dt.datetime | None, cancelled: bool, now: dt.datetime
) -> DeliverableStatus:
    """The status an operator sees at `now`."""
    if cancelled:
        return DeliverableStatus.CANCELLED
    if submitted_at is not None and submitted_at <= now:
        late = submitted_at > due_at
        return DeliverableStatus.SUBMITTED_LATE if late else DeliverableStatus.SUBMITTED
    if now > due_at:
        return DeliverableStatus.OVERDUE
    return DeliverableStatus.DUE_SOON if due_at - now <= DUE_SOON else DeliverableStatus.UPCOMING


def deliverable_matrix(
    connection: sa.Connection, *, cohort_id: str, now: dt.datetime
) -> list[DeliverableRow]:
    """Every deliverable of the cohort with its status at `now`, by city and due time."""
    rows = connection.execute(
        sa.select(DELIVERABLE)
        .where(DELIVERABLE.c.cohort_id == cohort_id)
        .order_by(DELIVERABLE.c.city_id, DELIVERABLE.c.due_at)
    )
    return [_deliverable_row(r, now) for r in rows]


def city_deliverables(
    connection: sa.Connection, *, cohort_id: str, city_id: str, now: dt.datetime
) -> list[DeliverableRow]:
    """One city's deliverables with their status at `now`, by due time."""
    rows = connection.execute(
        sa.select(DELIVERABLE)
        .where(DELIVERABLE.c.cohort_id == cohort_id, DELIVERABLE.c.city_id == city_id)
        .order_by(DELIVERABLE.c.due_at, DELIVERABLE.c.key)
    )
    return [_deliverable_row(r, now) for r in rows]


def _deliverable_row(r: Any, now: dt.datetime) -> DeliverableRow:
    return DeliverableRow(
        r.key,
        r.city_id,
        r.deliverable,
        r.title,
        r.due_at,
        r.submitted_at,
        r.link,
        status_at(r.due_at, r.submitted_at, r.status == RecordStatus.CANCELLED, now),
        tuple(r.owners),
    )


def submit_deliverable(
    connection: sa.Connection,
    *,
    cohort_id: str,
    city_id: str,
    deliverable: str,
    link: str | None,
    now: dt.datetime,
) -> tuple[str, int]:
    """Record a submission at `now` and cancel the deliverable's pending notices.

    Returns the deliverable key and how many pending notices were cancelled. Submitting again
    updates the link and keeps the first submission time.
    """
    key = f"{cohort_id}/deliverable/{city_id}/{deliverable}"
    row = connection.execute(sa.select(DELIVERABLE).where(DELIVERABLE.c.key == key)).first()
    if row is None:
        known = connection.execute(
            sa.select(DELIVERABLE.c.deliverable)
            .where((DELIVERABLE.c.cohort_id == cohort_id) & (DELIVERABLE.c.city_id == city_id))
            .order_by(DELIVERABLE.c.due_at)
        ).scalars()
        names = ", ".join(known) or "none: is the city id right and the cohort applied?"
        raise UnknownDeliverableError(
            f"no deliverable {deliverable!r} for {city_id!r} (known: {names})"
        )
    connection.execute(
        sa.update(DELIVERABLE)
        .where(DELIVERABLE.c.key == key)
        .values(submitted_at=row.submitted_at or now, link=link or row.link, changed_at=now)
    )
    cancelled = cancel_pending_notices(connection, subject_key=key, kinds=DELIVERABLE_NOTICE_KINDS)
    return key, cancelled


def stored_deliverables(connection: sa.Connection, *, cohort_id: str) -> dict[str, StoredItem]:
    """Each stored deliverable's content fingerprint and status, for reconcile."""
    return _stored_items(connection, DELIVERABLE, cohort_id, deliverable_content_of_row)


def stored_decision_points(connection: sa.Connection, *, cohort_id: str) -> dict[str, StoredItem]:
    """Each stored decision point's content fingerprint and status, for reconcile."""
    return _stored_items(connection, DECISION, cohort_id, decision_point_content)


def deliverable_content_of_row(row: Any) -> dict[str, Any]:
    """Mirrors `calendars.fingerprints.deliverable_content`; reminders are stored in seconds."""
    return {
        "due_at": row.due_at.isoformat(),
        "owners": list(row.owners),
        "title": row.title,
        "reminders": list(row.reminders),
    }


def _stored_items(
    connection: sa.Connection, table: sa.Table, cohort_id: str, content: Any
) -> dict[str, StoredItem]:
    return {
        row.key: StoredItem(fingerprint(content(row)), row.status)
        for row in connection.execute(sa.select(table).where(table.c.cohort_id == cohort_id))
    }


def write_deliverable_changes(
    connection: sa.Connection,
    *,
    cohort_id: str,
    deliverables: list[TimelineDeliverable],
    changes: list[ItemChange],
    now: dt.datetime,
) -> None:
    values = {
        d.key: {
            "key": d.key,
            "cohort_id": cohort_id,
            "city_id": d.city_id,
            "deliverable": d.deliverable,
            "title": {k.value: v for k, v in d.title.items()},
            "due_at": d.due_at,
            "owners": list(d.owners),
            "reminders": [int(r.total_seconds()) for r in d.reminders],
        }
        for d in deliverables
    }
    _write_item_changes(connection, DELIVERABLE, changes, values, now)


def write_decision_point_changes(
    connection: sa.Connection,
    *,
    cohort_id: str,
    decision_points: list[TimelineDecisionPoint],
    changes: list[ItemChange],
    now: dt.datetime,
) -> None:
    values = {
        d.key: {
            "key": d.key,
            "cohort_id": cohort_id,
            "city_id": d.city_id,
            "decision_point": d.decision_point,
            "title": {k.value: v for k, v in d.title.items()},
            "decide": {k.value: v for k, v in d.decide.items()},
            "checkin_session": d.checkin_session,
            "notify_at": d.notify_at,
            "deliverables": list(d.deliverables),
        }
        for d in decision_points
    }
    _write_item_changes(connection, DECISION, changes, values, now)


def _write_item_changes(
    connection: sa.Connection,
    table: sa.Table,
    changes: list[ItemChange],
    values: dict[str, dict[str, Any]],
    now: dt.datetime,
) -> None:
    """Insert the added rows, rewrite the changed and restored, mark the cancelled."""
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
