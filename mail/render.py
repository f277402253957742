"""Render an outbox row into the email it stands for, from the stored session, person and cohort.

Invitations, updates and cancellations show the time and place fixed in the row when it was
queued, so each message agrees with the SEQUENCE it carries; reminders show the session as it
is now. DTSTAMP is the moment the message is rendered (its Date), not when it was queued: an
invitation queued at apply and sent weeks later is stamped when sent (RFC 5546 §2.1.5).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from calendars.ical_types import CalendarPerson, EventSnapshot, InviteAttendee
from calendars.invitations import ItipMethod, build_itip
from calendars.local_time import same_wall_clock
from calendars.timeline_types import uid_for
from mail.addressing import copied
from mail.mime import OutgoingEmail, message_bytes
from mail.notice_context import NOTICE_KINDS, NoticeObsoleteError, notice_context
from mail.shared_renderer import SharedRenderer
from mail.templates import RenderedEmail, localized, render_email
from models.enums import RecordStatus
from models.outbox import OUTBOX_COHORT, MessageKind
from models.tables import INVITATION, PERSON, SESSION

CALENDAR_KINDS = frozenset(
    {MessageKind.INVITATION, MessageKind.UPDATE, MessageKind.CANCELLATION, MessageKind.REMOVAL}
)
WITHDRAWN_KINDS = frozenset({MessageKind.CANCELLATION, MessageKind.REMOVAL})
SESSION_MESSAGE_KINDS = CALENDAR_KINDS | {MessageKind.SESSION_REMINDER}
CHUNK = 500


class ObsoleteMessageError(Exception):
    """The message lost its purpose (its session started or was cancelled): cancel, not fail."""


class RenderError(Exception):
    """The message cannot be built from what is stored: a permanent failure."""


@dataclass(frozen=True)
class RenderedMessage:
    envelope_from: str
    recipient: str
    subject: str
    data: bytes  # RFC 5322, CRLF line ends
    copies: tuple[str, ...] = ()  # also RCPT TO: the Cc addresses (a mayor's assistant)


@dataclass(frozen=True)
class RenderSources:
    """The stored rows a batch of outbox rows is rendered from, read with a few queries."""

    cohorts: Mapping[str, Any]
    sessions: Mapping[str, Any]
    people: Mapping[tuple[str, str], Any]  # (cohort, email)
    required: Mapping[tuple[str, str], bool]  # (session, email)
    # Deliverable and decision-point notices: their template context, or why they are obsolete.
    notices: Mapping[int, dict[str, Any] | str] = field(default_factory=dict)


def load_render_sources(connection: sa.Connection, *, rows: Sequence[Any]) -> RenderSources:
    cohort_ids = sorted({r.cohort_id for r in rows})
    session_keys = sorted({r.subject_key for r in rows if r.kind in SESSION_MESSAGE_KINDS})
    emails = sorted({r.email for r in rows})
    cohorts = {
        c.cohort_id: c
        for c in connection.execute(
            sa.select(OUTBOX_COHORT).where(OUTBOX_COHORT.c.cohort_id.in_(cohort_ids))
        )
    }
    sessions: dict[str, Any] = {}
    required: dict[tuple[str, str], bool] = {}
    for start in range(0, len(session_keys), CHUNK):
        keys = session_keys[start : start + CHUNK]
        sessions.update(
            (s.key, s)
            for s in connection.execute(sa.select(SESSION).where(SESSION.c.key.in_(keys)))
        )
        required.update(
            ((i.session_key, i.email), i.required)
            for i in connection.execute(
                sa.select(
                    INVITATION.c.session_key, INVITATION.c.email, INVITATION.c.required
                ).where(INVITATION.c.session_key.in_(keys))
            )
        )
    people: dict[tuple[str, str], Any] = {}
    for start in range(0, len(emails), CHUNK):
        people.update(
            ((p.cohort_id, p.email), p)
            for p in connection.execute(
                sa.select(PERSON).where(
                    PERSON.c.email.in_(emails[start : start + CHUNK]),
                    PERSON.c.cohort_id.in_(cohort_ids),
                )
            )
        )
    notices: dict[int, dict[str, Any] | str] = {}
    for row in rows:
        if row.kind in NOTICE_KINDS and row.raw is None:
            person = people.get((row.cohort_id, row.email))
            if person is None:
                continue  # reported by render_row
            try:
                # Dated at its send_at: the same content on every retry.
                notices[row.id] = notice_context(
                    connection, row=row, recipient=person, date=row.send_at
                )
            except NoticeObsoleteError as why:
                notices[row.id] = str(why)
            except LookupError as error:
                notices[row.id] = {"error": str(error)}
    return RenderSources(cohorts, sessions, people, required, notices)


def render_row(
    row: Any,
    sources: RenderSources,
    *,
    date: dt.datetime,
    mail_from: str | None = None,
    renderer: SharedRenderer | None = None,
) -> RenderedMessage:
    """The message of one outbox row, dated `date`; `mail_from` overrides the organizer's address.

    Pass one `renderer` for many rows: a session's recipients then share one template run.
    """
    if row.raw is not None:
        sender_email = mail_from or _cohort(row, sources).organizer_email
        return RenderedMessage(sender_email, row.email, row.subject or "", bytes(row.raw))
    email = outgoing_email(row, sources, date=date, mail_from=mail_from, renderer=renderer)
    return RenderedMessage(
        email.sender_email, row.email, email.subject, message_bytes(email), email.cc
    )


def outgoing_email(
    row: Any,
    sources: RenderSources,
    *,
    date: dt.datetime,
    mail_from: str | None = None,
    renderer: SharedRenderer | None = None,
) -> OutgoingEmail:
    """What the message of a row without stored content is written from.

    The calendar's ORGANIZER is the From address: some clients ignore updates from anyone else.
    """
    cohort = _cohort(row, sources)
    sender_email = mail_from or cohort.organizer_email
    person = sources.people.get((row.cohort_id, row.email))
    if row.kind in NOTICE_KINDS:
        return _notice_email(row, sources, cohort, person, sender_email, date)
    if row.kind not in SESSION_MESSAGE_KINDS:
        raise RenderError(f"no renderer for {row.kind!r} messages without stored content")
    return _session_email(row, sources, cohort, person, sender_email, date, renderer)


def _notice_email(
    row: Any, sources: RenderSources, cohort: Any, person: Any, sender_email: str, date: dt.datetime
) -> OutgoingEmail:
    context = sources.notices.get(row.id)
    if person is None or context is None:
        raise RenderError(f"person {row.email!r} or the subject {row.subject_key!r} is not stored")
    if isinstance(context, str):
        raise ObsoleteMessageError(context)
    if "error" in context:
        raise RenderError(context["error"])
    full = _addressed(cohort, person, sender_email) | context
    rendered = render_email(row.kind, person.language, full)
    return _email(row, cohort, person, sender_email, rendered, date)


def _session_email(
    row: Any,
    sources: RenderSources,
    cohort: Any,
    person: Any,
    sender_email: str,
    date: dt.datetime,
    renderer: SharedRenderer | None,
) -> OutgoingEmail:
    session = sources.sessions.get(row.subject_key)
    if session is None or person is None:
        raise RenderError(f"session {row.subject_key!r} or person {row.email!r} is not stored")
    if row.kind == MessageKind.SESSION_REMINDER and session.status == RecordStatus.CANCELLED:
        raise ObsoleteMessageError("the session was cancelled")
    if session.starts_at <= date:
        # Nothing is ever sent for a session already started: not a reminder, and not a late
        # invitation, update or cancellation after the dispatcher was down past the start.
        raise ObsoleteMessageError("the session had started before the message could be sent")
    shown = _shown_session(row, session, person.language, person.timezone)
    context = _addressed(cohort, person, sender_email) | {
        "session": shown,
        "previous": {
            "starts_at": row.previous_starts_at or shown["starts_at"],
            "ends_at": row.previous_ends_at or shown["ends_at"],
            "location": shown["location"]
            if row.previous_location is None
            else row.previous_location,
        },
    }
    rendered = (render_email if renderer is None else renderer.render)(
        row.kind, person.language, context
    )
    calendar = None
    if row.kind in CALENDAR_KINDS:
        calendar = _calendar(row, session, shown, cohort, sender_email, person, sources, date)
    return _email(row, cohort, person, sender_email, rendered, date, calendar=calendar)


def _cohort(row: Any, sources: RenderSources) -> Any:
    cohort = sources.cohorts.get(row.cohort_id)
    if cohort is None:
        raise RenderError(f"cohort {row.cohort_id!r} has no sender details in the outbox")
    return cohort


def _addressed(cohort: Any, person: Any, sender_email: str) -> dict[str, Any]:
    """The context every kind of email has: recipient, sender, program."""
    return {
        "recipient": {
            "name": person.name,
            "timezone": person.timezone,
            "addressing": person.addressing,
        },
        "sender": {
            "name": cohort.organizer_name,
            "email": sender_email,
            "reply_to": cohort.reply_to,
        },
        "program": {"name": localized(cohort.program_name, person.language)},
    }


def _email(
    row: Any,
    cohort: Any,
    person: Any,
    sender_email: str,
    rendered: RenderedEmail,
    date: dt.datetime,
    *,
    calendar: bytes | None = None,
) -> OutgoingEmail:
    return OutgoingEmail(
        sender_name=cohort.organizer_name,
        sender_email=sender_email,
        reply_to=cohort.reply_to,
        to_name=person.name,
        to_email=row.email,
        cc=copied(person.addressing),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=row.message_id,
        date=date,
        calendar=calendar,
        in_reply_to=row.in_reply_to,
        references=(row.in_reply_to,) if row.in_reply_to else (),
    )


def _shown_session(row: Any, session: Any, language: str, recipient_zone: str) -> dict[str, Any]:
    announced = row.kind in CALENDAR_KINDS and row.starts_at is not None
    starts_at = row.starts_at if announced else session.starts_at
    ends_at = row.ends_at if announced else session.ends_at
    return {
        "kind": session.kind,  # the convening is named as such, never "session"
        "title": localized(session.title, language),
        "description": localized(session.description, language) if session.description else None,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "location": (row.location or "") if announced else session.location,
        "meeting_url": session.meeting_url,
        "interpreted": session.language is None,  # English with simultaneous interpretation
        # In person (no meeting link): the venue's clock too, for those travelling there,
        # when it differs from the recipient's.
        "venue_timezone": venue_timezone(session, starts_at, ends_at, recipient_zone),
    }


def venue_timezone(
    session: Any, starts_at: dt.datetime, ends_at: dt.datetime, recipient_zone: str
) -> str | None:
    """The zone of an in-person session's venue, when its clock differs from the recipient's."""
    if session.meeting_url is not None:
        return None
    if same_wall_clock(session.timezone, recipient_zone, starts_at, ends_at):
        return None
    zone: str = session.timezone
    return zone


def _calendar(
    row: Any,
    session: Any,
    shown: Mapping[str, Any],
    cohort: Any,
    sender_email: str,
    person: Any,
    sources: RenderSources,
    date: dt.datetime,
) -> bytes:
    event = EventSnapshot(
        uid=uid_for(session.key, cohort.program_id),
        sequence=row.sequence,
        last_changed=session.changed_at,
        starts_at=shown["starts_at"],
        ends_at=shown["ends_at"],
        summary=shown["title"],
        description=shown["description"] or "",
        location=shown["location"],
        url=session.meeting_url,
        cancelled=row.kind in WITHDRAWN_KINDS,
        reminders=tuple(dt.timedelta(seconds=s) for s in session.reminders),
    )
    organizer = CalendarPerson(sender_email, cohort.organizer_name)
    # One attendee: a cohort-wide session has thousands, and each sees only themselves.
    attendee = InviteAttendee(
        row.email, person.name, sources.required.get((session.key, row.email), True)
    )
    method: ItipMethod = "CANCEL" if row.kind in WITHDRAWN_KINDS else "REQUEST"
    return build_itip(method, event, organizer=organizer, attendees=[attendee], dtstamp=date)
