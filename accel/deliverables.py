"""Deliverable submissions and the cities × deliverables status matrix."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from models.enums import RecordStatus
from models.outbox import OUTBOX, MessageStatus
from models.tables import DELIVERABLE

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
    rows = connection.execute(
        sa.select(DELIVERABLE)
        .where(DELIVERABLE.c.cohort_id == cohort_id)
        .order_by(DELIVERABLE.c.city_id, DELIVERABLE.c.due_at)
    )
    return [
        DeliverableRow(
            r.key,
            r.city_id,
            r.deliverable,
            r.title,
            r.due_at,
            r.submitted_at,
            r.link,
            status_at(r.due_at, r.submitted_at, r.status == RecordStatus.CANCELLED, now),
        )
        for r in rows
    ]


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
    cancelled = connection.execute(
        sa.update(OUTBOX)
        .where(
            (OUTBOX.c.subject_key == key)
            & (OUTBOX.c.status == MessageStatus.PENDING.value)
            & OUTBOX.c.kind.in_(DELIVERABLE_NOTICE_KINDS)
        )
        .values(status=MessageStatus.CANCELLED.value)
    )
    return key, cancelled.rowcount
