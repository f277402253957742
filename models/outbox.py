"""The outbox: one row per email to send, with its due time, state and idempotency key.

Rendering is lazy: a row stores what the message *is* (kind, session, recipient, sequence, the
time and place it announces) and the dispatcher renders it when it sends it. Measured on this
2-core machine (`bench/bench_dispatch.py`, `bench/bench_apply.py`): one invitation (Jinja2 text
and HTML, the iCalendar REQUEST, MIME, bytes) takes 6.1-6.7 ms to render and is 8.8 KB, so the
133,000 invitations of a 1,000-city cohort rendered eagerly would add about 14 minutes and
1.2 GB to the one `apply` transaction. Lazily, that apply queues 278,000 rows (invitations and
reminders) in about 11 s, some 600 bytes each with indexes. The price is paid at send time: a
dispatcher renders about 100 invitations/s per process (pre-rendered bytes go at ~560/s), so
more cores mean more dispatchers, which claim disjoint rows. `raw` carries a message rendered
ahead of time, sent as is.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from models.tables import utc_column


class MessageKind(StrEnum):
    """What a message is; the session kinds are rendered from the session it names."""

    INVITATION = "invitation"
    UPDATE = "update"
    CANCELLATION = "cancellation"  # the session is off for everyone
    REMOVAL = "removal"  # the session goes on without this person (their copy is withdrawn)
    SESSION_REMINDER = "session_reminder"
    DELIVERABLE_DUE = "deliverable_due"
    DELIVERABLE_OVERDUE = "deliverable_overdue"
    OVERDUE_ESCALATION_COACH = "overdue_escalation_coach"
    OVERDUE_ESCALATION_MAYOR = "overdue_escalation_mayor"
    DECISION_POINT = "decision_point"


class MessageStatus(StrEnum):
    """pending -> sending -> sent | failed; pending -> cancelled (superseded, session gone)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_message_idempotency_key"),
        # The dispatcher's query: due pending rows, and stale `sending` rows, by time.
        sa.Index("ix_outbox_message_status_send_at", "status", "send_at"),
        sa.Index("ix_outbox_message_subject_email", "subject_key", "email"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: str
    # Same logical message, same key: "invitation:<session>:<email>:<sequence>".
    idempotency_key: str
    kind: str
    email: str  # the recipient, lower case
    city_id: str | None = None
    subject_key: str | None = None  # the session (or deliverable) the message is about
    sequence: int = 0  # the iCalendar SEQUENCE the message carries
    offset_seconds: int | None = None  # reminders: how long before the start it was meant
    send_at: dt.datetime = utc_column(nullable=False)
    status: str = MessageStatus.PENDING.value
    attempts: int = 0
    last_error: str | None = None
    claimed_by: str | None = None
    claimed_at: dt.datetime | None = utc_column(nullable=True)
    sent_at: dt.datetime | None = utc_column(nullable=True)
    message_id: str  # derived from the idempotency key: a re-send carries the same Message-ID
    in_reply_to: str | None = None  # updates and cancellations thread under the invitation
    # What an invitation, update or cancellation announces, fixed when it is queued.
    starts_at: dt.datetime | None = utc_column(nullable=True)
    ends_at: dt.datetime | None = utc_column(nullable=True)
    location: str | None = None
    # Updates: what the recipient was last told, shown as "before the change".
    previous_starts_at: dt.datetime | None = utc_column(nullable=True)
    previous_ends_at: dt.datetime | None = utc_column(nullable=True)
    previous_location: str | None = None
    subject: str | None = None  # filled in when rendered, for operators
    raw: bytes | None = Field(default=None, sa_column=Column(sa.LargeBinary, nullable=True))
    created_at: dt.datetime = utc_column(nullable=False)


class OutboxCohort(SQLModel, table=True):
    """What rendering needs beyond the stored sessions and people: program and organizer."""

    __tablename__ = "outbox_cohort"

    cohort_id: str = Field(primary_key=True)
    program_id: str  # the UID domain of every session
    program_name: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    organizer_name: str
    organizer_email: str
    reply_to: str | None = None
    changed_at: dt.datetime = utc_column(nullable=False)


# Core table handles, exported once: queries everywhere use these names.
OUTBOX: sa.Table = OutboxMessage.__table__  # type: ignore[attr-defined]
OUTBOX_COHORT: sa.Table = OutboxCohort.__table__  # type: ignore[attr-defined]
