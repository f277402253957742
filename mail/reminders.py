"""Session reminders in the outbox: one row per (session, attendee, offset), kept in step.

For every session the plan touches, the wanted reminders are compared with the stored ones:
new ones are queued, pending ones re-timed when the session moved, and pending ones cancelled
when the session, the person or the offset is gone. A reminder already sent stays sent: a
later move is announced by the update email. A change of `quiet_hours` alone touches no
session, so it applies to reminders queued later.

Quiet hours (`program.quiet_hours`, 22:00-07:00 by default, in the recipient's zone): a reminder
whose local send time falls inside them moves to the nearer of two moments, (a) one hour before
the quiet hours begin (21:00 the evening before) or (b) the moment they end (07:00), where (b)
is a candidate only if it is still before the session starts; on a tie the earlier one wins.
A 24-hour reminder due at 23:00 goes at 21:00; one due at 06:30 for a 10:00 session goes at
07:00; one due at 06:30 for a 07:00 session goes at 21:00 the evening before.
Nothing is queued for a session already started at `now`, nor a reminder due at or before it.

Days off: a reminder whose (quiet-hours adjusted) moment is on the recipient's weekend, public
holiday or a program blackout date moves to the same wall time on their previous business day
(so still outside quiet hours, and earlier than the session).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from calendars.business_days import DaysOff
from calendars.reconcile import Action, Plan
from calendars.slots import local_instant
from calendars.timeline_types import Timeline, TimelineSession
from mail.outbox_writes import (
    CANCELLED,
    PENDING,
    QueueReport,
    cancel_pending,
    insert_new,
    new_row,
    session_rows,
)
from models.outbox import OUTBOX, MessageKind
from models.timezones import load_zone

BEFORE_QUIET = dt.timedelta(hours=1)  # "the evening before" means an hour before quiet hours


def reminder_key(session_key: str, email: str, offset_seconds: int) -> str:
    return f"reminder:{session_key}:{email}:{offset_seconds}"


def reminder_send_at(
    starts_at: dt.datetime,
    offset: dt.timedelta,
    *,
    zone: str,
    quiet: tuple[dt.time, dt.time],
    days_off: DaysOff | None = None,
) -> dt.datetime:
    """When a reminder goes out: the quiet-hours rule, then off the recipient's days off."""
    moment = _quiet_send_at(starts_at, offset, zone=zone, quiet=quiet)
    return days_off.earlier_business_moment(moment) if days_off is not None else moment


def _quiet_send_at(
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
    >>> # Due Wednesday 18 Sep 10:00 local, Chile's Independence Day: Tuesday 17 Sep 10:00.
    >>> from calendars.business_days import DaysOff
    >>> chile = DaysOff.of("America/Santiago", "CL", None, (2024,))
    >>> reminder_send_at(dt.datetime(2024, 9, 19, 13, tzinfo=utc), day,
    ...                  zone="America/Santiago", quiet=quiet, days_off=chile).isoformat()
    '2024-09-17T13:00:00+00:00'
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
                    session.starts_at,
                    offset,
                    zone=person.timezone,
                    quiet=quiet,
                    days_off=timeline.days_off.get(person.key),
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


@dataclass
class _Changes:
    """What one apply does to the stored reminders of the sessions it touches."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    retime: list[dict[str, Any]] = field(default_factory=list)  # {_id, _send_at}
    gone: dict[str, list[int]] = field(default_factory=dict)  # reason -> row ids

    def cancel(self, row_id: int, reason: str) -> None:
        self.gone.setdefault(reason, []).append(row_id)


def sync_reminders(
    connection: sa.Connection,
    *,
    plan: Plan,
    timeline: Timeline,
    domain: str,
    now: dt.datetime,
    quiet: tuple[dt.time, dt.time],
    report: QueueReport,
) -> None:
    """Queue, re-time and cancel the reminders of every session the plan touches."""
    touched = _touched_sessions(plan, timeline)
    if not touched:
        return
    in_timeline = {s.key: s for s in timeline.sessions if s.key in touched}
    # Started sessions are history: their reminders are neither queued nor changed.
    upcoming = [s for s in in_timeline.values() if s.starts_at > now]
    wanted = {w[0]: w for w in _wanted_reminders(upcoming, timeline, quiet=quiet)}
    is_reminder = OUTBOX.c.kind == MessageKind.SESSION_REMINDER.value
    stored = {r.idempotency_key: r for r in session_rows(connection, touched, is_reminder)}
    changes = _Changes()
    for key, (_, session, email, seconds, send_at) in wanted.items():
        row = stored.get(key)
        if row is None:
            if send_at > now:
                changes.inserts.append(
                    new_row(plan.cohort_id, key, domain, now)
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
                changes.retime.append({"_id": row.id, "_send_at": send_at})
            elif row.status == PENDING:
                changes.cancel(row.id, "the session moved: the reminder's time has passed")
    for key, row in stored.items():
        if key in wanted or row.status != PENDING:
            continue
        reason = _why_unwanted(in_timeline.get(row.subject_key), row.email, now)
        if reason is not None:
            changes.cancel(row.id, reason)
    _write(connection, changes, report)


def _write(connection: sa.Connection, changes: _Changes, report: QueueReport) -> None:
    if changes.retime:
        connection.execute(
            # Never a row a dispatcher claimed meanwhile: that one is on its way.
            sa.update(OUTBOX)
            .where(
                OUTBOX.c.id == sa.bindparam("_id"),
                # Not IN (...): an expanding list cannot go through executemany.
                sa.or_(OUTBOX.c.status == PENDING.value, OUTBOX.c.status == CANCELLED.value),
            )
            .values(send_at=sa.bindparam("_send_at"), status=PENDING.value, last_error=None),
            changes.retime,
        )
        report.retimed += len(changes.retime)
    for reason, ids in changes.gone.items():
        cancel_pending(connection, ids, reason)
        report.cancelled += len(ids)
    insert_new(connection, changes.inserts)
    report.queued[MessageKind.SESSION_REMINDER.value] += len(changes.inserts)


def _why_unwanted(session: TimelineSession | None, email: str, now: dt.datetime) -> str | None:
    """Why a pending reminder is no longer wanted; None to leave it (its session started)."""
    if session is None:
        return "the session was cancelled"
    if session.starts_at <= now:
        return None  # history: the dispatcher drops reminders of started sessions
    if email not in {a.person for a in session.attendees}:
        return "no longer an attendee"
    return "the reminder was removed"
