"""Queue the emails of an applied plan in the outbox, inside the transaction that applies it.

Invitations, updates and cancellations go out at `now` for every notified invitation change
(a first invitation waits until `invite_before` its session). A message still pending when a
newer change for the same person and session arrives is superseded (cancelled): an unsent
invitation followed by a change becomes one invitation with the new sequence, and an unsent
invitation followed by a removal sends nothing at all. Reminders: `mail/reminders.py`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from calendars.business_days import business_send_at
from calendars.reconcile import Action, InvitationChange, Plan
from calendars.timeline_types import LoadedInputs, Timeline, TimelineSession
from mail.outbox_writes import (
    PENDING,
    QueueReport,
    cancel_pending,
    insert_new,
    mail_domain,
    new_row,
    session_rows,
)
from mail.reminders import sync_reminders
from models.outbox import OUTBOX, OUTBOX_COHORT, MessageKind, MessageStatus

GONE_KINDS = (MessageKind.CANCELLATION.value, MessageKind.REMOVAL.value)
SENDING, SENT = MessageStatus.SENDING, MessageStatus.SENT
SESSION_KINDS = (
    MessageKind.INVITATION,
    MessageKind.UPDATE,
    MessageKind.CANCELLATION,
    MessageKind.REMOVAL,
)


def message_key(kind: str, session_key: str, email: str, sequence: int) -> str:
    """The idempotency key of an invitation, update or cancellation.

    >>> message_key("invitation", "cda-2024/coaching/santiago/03", "c.soto@santiago.example.org", 0)
    'invitation:cda-2024/coaching/santiago/03:c.soto@santiago.example.org:0'
    """
    return f"{kind}:{session_key}:{email}:{sequence}"


def queue_plan_messages(
    connection: sa.Connection, *, inputs: LoadedInputs, plan: Plan, now: dt.datetime
) -> QueueReport:
    """Write the plan's emails to the outbox; the caller's transaction commits them with it."""
    report = QueueReport()
    timeline = inputs.timeline
    _save_cohort(connection, inputs=inputs, now=now)
    domain = mail_domain(inputs.cohort.organizer.email)
    _queue_invitation_changes(
        connection, plan=plan, timeline=timeline, domain=domain, now=now, report=report
    )
    sync_reminders(
        connection,
        plan=plan,
        timeline=timeline,
        domain=domain,
        now=now,
        quiet=inputs.program.quiet_hours,
        report=report,
    )
    return report


def _save_cohort(connection: sa.Connection, *, inputs: LoadedInputs, now: dt.datetime) -> None:
    organizer = inputs.cohort.organizer
    values = {
        "program_id": inputs.program.id,
        "program_name": {lang.value: text for lang, text in inputs.program.name.items()},
        "organizer_name": organizer.name,
        "organizer_email": organizer.email,
        "reply_to": organizer.reply_to,
        "changed_at": now,
    }
    where = OUTBOX_COHORT.c.cohort_id == inputs.cohort.id
    if connection.execute(sa.select(OUTBOX_COHORT.c.cohort_id).where(where)).first() is None:
        connection.execute(sa.insert(OUTBOX_COHORT).values(cohort_id=inputs.cohort.id, **values))
    else:
        connection.execute(sa.update(OUTBOX_COHORT).where(where).values(**values))


def _queue_invitation_changes(
    connection: sa.Connection,
    *,
    plan: Plan,
    timeline: Timeline,
    domain: str,
    now: dt.datetime,
    report: QueueReport,
) -> None:
    changes = [c for c in plan.invitations if c.notify]
    if not changes:
        return
    sessions = {s.key: s for s in timeline.sessions}
    history: dict[tuple[str, str], list[Any]] = {}
    for row in session_rows(
        connection,
        {c.session_key for c in changes},
        OUTBOX.c.kind.in_([k.value for k in SESSION_KINDS]),
    ):
        history.setdefault((row.subject_key, row.email), []).append(row)
    superseded: list[int] = []
    inserts: list[dict[str, Any]] = []
    for change in changes:
        rows = sorted(
            history.get((change.session_key, change.email), []), key=lambda r: (r.sequence, r.id)
        )
        superseded.extend(r.id for r in rows if r.status == PENDING)
        # What the person was actually sent (or may have been: `sending`), newest last.
        told = [r for r in rows if r.status in (SENT, SENDING)]
        last = told[-1] if told else None
        knows_event = last is not None and last.kind not in GONE_KINDS
        values = _invitation_values(
            change, sessions.get(change.session_key), last, knows_event=knows_event
        )
        if values is None:
            continue
        first = next((r for r in reversed(told) if r.kind == MessageKind.INVITATION), None)
        kind = values["kind"]
        key = message_key(kind, change.session_key, change.email, change.sequence)
        common = new_row(plan.cohort_id, key, domain, now)
        session = sessions.get(change.session_key)
        if session is not None:
            # A first invitation waits until `invite_before` the session (see TimelineSession);
            # any message waits out the recipient's weekend or public holiday when the session
            # is later than that (see business_send_at).
            invitation = kind == MessageKind.INVITATION.value
            common["send_at"] = business_send_at(
                timeline.days_off.get(change.email),
                session.starts_at - session.invite_before if invitation else now,
                now=now,
                before=session.starts_at,
            )
        inserts.append(
            values
            | common
            | {
                "email": change.email,
                "city_id": change.city_id,
                "subject_key": change.session_key,
                "sequence": change.sequence,
                "offset_seconds": None,
                "in_reply_to": first.message_id
                if first is not None and kind != "invitation"
                else None,
            }
        )
        report.queued[kind] += 1
    if superseded:
        report.superseded += len(superseded)
        cancel_pending(connection, superseded, "superseded by a newer change")
    insert_new(connection, inserts)


def _invitation_values(
    change: InvitationChange, session: TimelineSession | None, last: Any, *, knows_event: bool
) -> dict[str, Any] | None:
    """Kind and announced time and place of one change; None when there is nothing to tell."""
    if change.action in (Action.CANCEL, Action.REMOVE):
        if not knows_event:
            return None  # never told about it: a cancellation would only confuse
        # A removal also withdraws their calendar copy (METHOD:CANCEL) but says the session
        # goes on without them; a cancellation says the session itself is off.
        removed = change.action is Action.REMOVE
        return {
            "kind": (MessageKind.REMOVAL if removed else MessageKind.CANCELLATION).value,
            "starts_at": last.starts_at,
            "ends_at": last.ends_at,
            "location": last.location,
            "previous_starts_at": None,
            "previous_ends_at": None,
            "previous_location": None,
        }
    if session is None:  # reconcile only invites to or updates sessions of the timeline
        raise ValueError(f"{change.session_key}: an invitation for a session not in the timeline")
    announced = {
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
        "location": session.location,
    }
    if change.action is Action.UPDATE and knows_event:
        return {
            "kind": MessageKind.UPDATE.value,
            **announced,
            "previous_starts_at": last.starts_at,
            "previous_ends_at": last.ends_at,
            "previous_location": last.location,
        }
    # A new attendee, or one whose earlier invitation was never sent: a plain invitation.
    return {
        "kind": MessageKind.INVITATION.value,
        **announced,
        "previous_starts_at": None,
        "previous_ends_at": None,
        "previous_location": None,
    }
