"""Queue the emails of an applied plan in the outbox, inside the transaction that applies it.

Invitations, updates and cancellations go out at `now` for every notified invitation change.
A message still pending when a newer change for the same person and session arrives is
superseded (cancelled): an unsent invitation followed by a change becomes one invitation with
the new sequence, and an unsent invitation followed by a removal sends nothing at all.

Reminders are one row per (session, attendee, offset). For every session the plan touches, the
wanted reminders are compared with the stored ones: new ones are queued, pending ones re-timed
when the session moved, and pending ones cancelled when the session, the person or the offset
is gone. A reminder already sent stays sent: a later move is announced by the update email.
A change of `quiet_hours` alone touches no session, so it applies to reminders queued later.

Quiet hours (`program.quiet_hours`, 22:00-07:00 by default, in the recipient's zone): a reminder
whose local send time falls inside them moves to the nearer of two moments, (a) one hour before
the quiet hours begin (21:00 the evening before) or (b) the moment they end (07:00), where (b)
is a candidate only if it is still before the session starts; on a tie the earlier one wins.
A 24-hour reminder due at 23:00 goes at 21:00; one due at 06:30 for a 10:00 session goes at
07:00; one due at 06:30 for a 07:00 session goes at 21:00 the evening before.
Nothing is queued for a session already started at `now`, nor a reminder due at or before it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from calendars.reconcile import Action, InvitationChange, Plan
from calendars.slots import local_instant
from calendars.timeline_types import LoadedInputs, Timeline, TimelineSession
from mail.mime import make_message_id
from models.outbox import (
    OUTBOX,
    OUTBOX_COHORT,
    MessageKind,
    MessageStatus,
)
from models.timezones import load_zone

PENDING, SENDING, SENT = MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.SENT
CANCELLED = MessageStatus.CANCELLED
SESSION_KINDS = (MessageKind.INVITATION, MessageKind.UPDATE, MessageKind.CANCELLATION)
BEFORE_QUIET = dt.timedelta(hours=1)  # "the evening before" means an hour before quiet hours
CHUNK = 500  # keys per IN (...) list, well under every database's parameter limit


@dataclass
class QueueReport:
    """What one apply put in, changed in, or took out of the outbox."""

    queued: Counter[str] = field(default_factory=Counter)  # by kind
    superseded: int = 0
    retimed: int = 0
    cancelled: int = 0


def mail_domain(address: str) -> str:
    """The domain of the sender's address, which Message-IDs are made under."""
    return address.rsplit("@", 1)[1]


def message_key(kind: str, session_key: str, email: str, sequence: int) -> str:
    """The idempotency key of an invitation, update or cancellation.

    >>> message_key("invitation", "cda-2024/coaching/santiago/03", "c.soto@santiago.example.org", 0)
    'invitation:cda-2024/coaching/santiago/03:c.soto@santiago.example.org:0'
    """
    return f"{kind}:{session_key}:{email}:{sequence}"


def reminder_key(session_key: str, email: str, offset_seconds: int) -> str:
    return f"reminder:{session_key}:{email}:{offset_seconds}"


def reminder_send_at(
    starts_at: dt.datetime, offset: dt.timedelta, *, zone: str, quiet: tuple[dt.time, dt.time]
) -> dt.datetime:
    """When a reminder `offset` before `starts_at` goes out, after the quiet-hours rule.

    >>> utc = dt.UTC
    >>> quiet = (dt.time(22), dt.time(7))
    >>> day = dt.timedelta(days=1)
    >>> # 10:00 in Santiago (UTC-3) is 13:00 UTC; the reminder a day before is not quiet.
    >>> reminder_send_at(dt.datetime(2024, 9, 10, 13, tzinfo=utc), day,
    ...                  zone="America/Santiago", quiet=quiet).isoformat()
    '2024-09-09T13:00:00+00:00'
    >>> # 23:00 local the day before: moved back to 21:00 local.
    >>> reminder_send_at(dt.datetime(2024, 9, 11, 2, tzinfo=utc), day,
    ...                  zone="America/Santiago", quiet=quiet).isoformat()
    '2024-09-10T00:00:00+00:00'
    >>> # 06:30 local, the session at 10:00: forward to 07:00 local.
    >>> reminder_send_at(dt.datetime(2024, 9, 10, 13, tzinfo=utc), dt.timedelta(hours=3, minutes=30),
    ...                  zone="America/Santiago", quiet=quiet).isoformat()
    '2024-09-10T10:00:00+00:00'
    """
    intended = starts_at - offset
    quiet_start, quiet_end = quiet
    if quiet_start == quiet_end:
        return intended
    local = intended.astimezone(load_zone(zone))
    clock = local.time()
    wraps = quiet_start > quiet_end  # 22:00-07:00 spans midnight
    inside = (
        (clock >= quiet_start or clock < quiet_end) if wraps else (quiet_start <= clock < quiet_end)
    )
    if not inside:
        return intended
    begin_day = local.date() - dt.timedelta(days=1) if wraps and clock < quiet_end else local.date()
    end_day = begin_day + dt.timedelta(days=1) if wraps else begin_day
    earlier = local_instant(begin_day, quiet_start, zone) - BEFORE_QUIET
    later = local_instant(end_day, quiet_end, zone)
    if later < starts_at and later - intended < intended - earlier:
        return later
    return earlier


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
    _sync_reminders(
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
    for row in _rows(
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
        knows_event = last is not None and last.kind != MessageKind.CANCELLATION
        values = _invitation_values(
            change, sessions.get(change.session_key), last, knows_event=knows_event
        )
        if values is None:
            continue
        first = next((r for r in reversed(told) if r.kind == MessageKind.INVITATION), None)
        kind = values["kind"]
        key = message_key(kind, change.session_key, change.email, change.sequence)
        common = _common(plan.cohort_id, key, domain, now)
        session = sessions.get(change.session_key)
        if kind == MessageKind.INVITATION.value and session is not None:
            # A first invitation waits until `invite_before` the session (see TimelineSession).
            common["send_at"] = max(now, session.starts_at - session.invite_before)
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
        _cancel_pending(connection, superseded, "superseded by a newer change")
    _insert_new(connection, inserts)


def _invitation_values(
    change: InvitationChange, session: TimelineSession | None, last: Any, *, knows_event: bool
) -> dict[str, Any] | None:
    """Kind and announced time and place of one change; None when there is nothing to tell."""
    if change.action is Action.CANCEL:
        if not knows_event:
            return None  # never told about it: a cancellation would only confuse
        return {
            "kind": MessageKind.CANCELLATION.value,
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


def _common(cohort_id: str, key: str, domain: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "cohort_id": cohort_id,
        "idempotency_key": key,
        "send_at": now,
        "status": PENDING.value,
        "attempts": 0,
        "message_id": make_message_id(key, domain),
        "created_at": now,
    }


def _wanted_reminders(
    sessions: Iterable[TimelineSession], timeline: Timeline, *, quiet: tuple[dt.time, dt.time]
) -> Iterator[tuple[str, TimelineSession, str, int, dt.datetime]]:
    """(key, session, email, offset seconds, send_at) of every reminder the timeline wants."""
    for session in sessions:
        for attendee in session.attendees:
            person = timeline.people[attendee.person]
            for offset in session.reminders:
                seconds = int(offset.total_seconds())
                send_at = reminder_send_at(
                    session.starts_at, offset, zone=person.timezone, quiet=quiet
                )
                yield (
                    reminder_key(session.key, person.key, seconds),
                    session,
                    person.key,
                    seconds,
                    send_at,
                )


def _touched_sessions(plan: Plan, timeline: Timeline) -> set[str]:
    keys = {c.key for c in plan.sessions} | {i.session_key for i in plan.invitations}
    # A person's new zone moves their reminders across quiet hours.
    changed = {p.key for p in plan.people if p.action is Action.CHANGED}
    if changed:
        keys |= {s.key for s in timeline.sessions if changed & {a.person for a in s.attendees}}
    return keys


def _sync_reminders(
    connection: sa.Connection,
    *,
    plan: Plan,
    timeline: Timeline,
    domain: str,
    now: dt.datetime,
    quiet: tuple[dt.time, dt.time],
    report: QueueReport,
) -> None:
    touched = _touched_sessions(plan, timeline)
    if not touched:
        return
    in_timeline = {s.key: s for s in timeline.sessions if s.key in touched}
    # Started sessions are history: their reminders are neither queued nor changed.
    upcoming = [s for s in in_timeline.values() if s.starts_at > now]
    wanted = {w[0]: w for w in _wanted_reminders(upcoming, timeline, quiet=quiet)}
    stored = {
        r.idempotency_key: r
        for r in _rows(connection, touched, OUTBOX.c.kind == MessageKind.SESSION_REMINDER.value)
    }
    inserts: list[dict[str, Any]] = []
    retime: list[dict[str, Any]] = []
    gone: dict[str, list[int]] = {}
    for key, (_, session, email, seconds, send_at) in wanted.items():
        row = stored.get(key)
        if row is None:
            if send_at > now:
                inserts.append(
                    _common(plan.cohort_id, key, domain, now)
                    | {
                        "kind": MessageKind.SESSION_REMINDER.value,
                        "email": email,
                        "city_id": timeline.people[email].city_id or session.city_id,
                        "subject_key": session.key,
                        "sequence": 0,
                        "offset_seconds": seconds,
                        "send_at": send_at,
                        "in_reply_to": None,
                    }
                )
        elif row.status in (PENDING, CANCELLED) and (row.send_at, row.status) != (send_at, PENDING):
            if send_at > now:
                # Re-timed, or revived for a restored session or a re-added person.
                retime.append({"_id": row.id, "_send_at": send_at})
            elif row.status == PENDING:
                gone.setdefault("the session moved: the reminder's time has passed", []).append(
                    row.id
                )
    for key, row in stored.items():
        if key in wanted or row.status != PENDING:
            continue
        reason = _why_unwanted(in_timeline.get(row.subject_key), row.email, now)
        if reason is not None:
            gone.setdefault(reason, []).append(row.id)
    if retime:
        connection.execute(
            # Never a row a dispatcher claimed meanwhile: that one is on its way.
            sa.update(OUTBOX)
            .where(
                OUTBOX.c.id == sa.bindparam("_id"),
                # Not IN (...): an expanding list cannot go through executemany.
                sa.or_(OUTBOX.c.status == PENDING.value, OUTBOX.c.status == CANCELLED.value),
            )
            .values(send_at=sa.bindparam("_send_at"), status=PENDING.value, last_error=None),
            retime,
        )
        report.retimed += len(retime)
    for reason, ids in gone.items():
        _cancel_pending(connection, ids, reason)
        report.cancelled += len(ids)
    _insert_new(connection, inserts)
    report.queued[MessageKind.SESSION_REMINDER.value] += len(inserts)


def _why_unwanted(session: TimelineSession | None, email: str, now: dt.datetime) -> str | None:
    """Why a pending reminder is no longer wanted; None to leave it (its session started)."""
    if session is None:
        return "the session was cancelled"
    if session.starts_at <= now:
        return None  # history: the dispatcher drops reminders of started sessions
    if email not in {a.person for a in session.attendees}:
        return "no longer an attendee"
    return "the reminder was removed"


def _rows(connection: sa.Connection, session_keys: Iterable[str], condition: Any) -> Iterator[Any]:
    keys = sorted(session_keys)
    for start in range(0, len(keys), CHUNK):
        yield from connection.execute(
            sa.select(OUTBOX).where(
                OUTBOX.c.subject_key.in_(keys[start : start + CHUNK]), condition
            )
        )


def _cancel_pending(connection: sa.Connection, ids: Sequence[int], reason: str) -> None:
    for start in range(0, len(ids), CHUNK):
        # Only pending rows: one a dispatcher claimed meanwhile is left to it.
        connection.execute(
            sa.update(OUTBOX)
            .where(
                OUTBOX.c.id.in_(ids[start : start + CHUNK]),
                OUTBOX.c.status == PENDING.value,
            )
            .values(status=CANCELLED.value, last_error=reason)
        )


def _insert_new(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert, skipping rows whose idempotency key is already stored (ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    name = connection.dialect.name
    if name == "sqlite":
        connection.execute(
            sqlite.insert(OUTBOX).on_conflict_do_nothing(index_elements=["idempotency_key"]), rows
        )
        return
    if name == "postgresql":
        connection.execute(
            postgresql.insert(OUTBOX).on_conflict_do_nothing(index_elements=["idempotency_key"]),
            rows,
        )
        return
    known = set()
    keys = [r["idempotency_key"] for r in rows]
    for start in range(0, len(keys), CHUNK):
        known |= set(
            connection.execute(
                sa.select(OUTBOX.c.idempotency_key).where(
                    OUTBOX.c.idempotency_key.in_(keys[start : start + CHUNK])
                )
            ).scalars()
        )
    fresh = [r for r in rows if r["idempotency_key"] not in known]
    if fresh:
        connection.execute(sa.insert(OUTBOX), fresh)
