"""iTIP (RFC 5546) invitations and cancellations: one VCALENDAR with one VEVENT per message.

Time zones: every DTSTART/DTEND is written in UTC (``DTSTART:20240910T140000Z``) and no
VTIMEZONE is emitted, so every client reads the same instant and shows it in its own zone.
Evidence (icalendar 7.3, vobject 0.9.9, ics 0.7.3, tzdata 2026): for a 10:00 series every two
weeks from 20 Aug to 26 Nov 2024, the VTIMEZONE that icalendar's ``add_missing_timezones()``
writes (DTSTART plus long comma-separated RDATE lists) was read one hour off by vobject for
America/Santiago (2 of 8 events), America/Asuncion (4 of 8) and America/New_York (6 of 8),
while icalendar and ics-py agreed. A single yearly RRULE form (all Outlook keeps) cannot
describe Paraguay's move to permanent UTC-3 either. UTC instants parse identically in all
three parsers; `tests/calendars` checks this for every zone of the program.

A session's invitation differs between its recipients only in the ATTENDEE line, and each
property is a content line of its own (folded on its own, RFC 5545 §3.1): `build_itip` builds
the calendar around that line once per session and adds each recipient's line, giving the same
bytes as `build_request`/`build_cancel` (compared in `tests/calendars/test_invitations.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Literal

from icalendar import CUTYPE, PARTSTAT, ROLE, STATUS, Alarm, Calendar, Event, vCalAddress
from icalendar.parser import Contentline

from calendars.ical_types import PRODID, CalendarPerson, EventSnapshot, InviteAttendee

__all__ = ["PRODID", "add_alarms", "build_cancel", "build_itip", "build_request", "build_vevent"]

ItipMethod = Literal["REQUEST", "CANCEL"]
# Stands in for the recipients while the calendar around them is built; never sent.
_PLACEHOLDER = InviteAttendee("placeholder@attendee.invalid", "Placeholder", required=True)


def build_request(
    event: EventSnapshot,
    *,
    organizer: CalendarPerson,
    attendees: Sequence[InviteAttendee],
    dtstamp: dt.datetime,
    prodid: str = PRODID,
) -> bytes:
    """A METHOD:REQUEST invitation (new or updated) for exactly the attendees given.

    `dtstamp` is the moment the message is produced; an update keeps the UID and carries
    the raised SEQUENCE from `event`.
    """
    return _build("REQUEST", event, organizer, attendees, dtstamp, prodid, _serialized)


def build_cancel(
    event: EventSnapshot,
    *,
    organizer: CalendarPerson,
    attendees: Sequence[InviteAttendee],
    dtstamp: dt.datetime,
    prodid: str = PRODID,
) -> bytes:
    """A METHOD:CANCEL message removing the event from the given attendees' calendars.

    The caller raises `event.sequence` above the last REQUEST it sent.
    """
    return _build("CANCEL", event, organizer, attendees, dtstamp, prodid, _serialized)


def _build(
    method: ItipMethod,
    event: EventSnapshot,
    organizer: CalendarPerson,
    attendees: Sequence[InviteAttendee],
    dtstamp: dt.datetime,
    prodid: str,
    serialize: Callable[[Calendar], bytes],
) -> bytes:
    if method == "REQUEST" and event.cancelled:
        # REQUEST with STATUS:CANCELLED leaves the event in attendees' calendars.
        raise ValueError(f"event {event.uid!r} is cancelled: send it with build_cancel")
    vevent = _itip_vevent(
        event,
        organizer=organizer,
        attendees=attendees,
        dtstamp=dtstamp,
        cancelled=method == "CANCEL",
    )
    for attendee in attendees:
        vevent.add("ATTENDEE", _attendee_address(attendee, method))
    if method == "REQUEST":
        add_alarms(vevent, event)  # a cancellation leaves no alarm behind
    return serialize(_itip_calendar(method, vevent, prodid=prodid))


def build_itip(
    method: ItipMethod,
    event: EventSnapshot,
    *,
    organizer: CalendarPerson,
    attendees: Sequence[InviteAttendee],
    dtstamp: dt.datetime,
    prodid: str = PRODID,
) -> bytes:
    """`build_request` (REQUEST) or `build_cancel` (CANCEL): the same bytes and checks, faster.

    For the many recipients of one session: the calendar around the ATTENDEE lines depends
    only on the method, event, organizer, stamp and PRODID, and is built once (the last 1,024
    kept); the attendees' lines are built once per person.
    """
    if method == "REQUEST" and event.cancelled:
        raise ValueError(f"event {event.uid!r} is cancelled: send it with build_cancel")
    if not attendees:
        raise ValueError(f"event {event.uid!r}: an invitation needs at least one attendee")
    frame = _frame(method, event, organizer, dtstamp, prodid)
    if frame is None:  # not seen to be splittable: build it whole
        return _build(method, event, organizer, attendees, dtstamp, prodid, _serialized)
    head, tail = frame
    return b"".join([head, *(_attendee_line(method, a) for a in attendees), tail])


@lru_cache(maxsize=1024)
def _frame(
    method: ItipMethod,
    event: EventSnapshot,
    organizer: CalendarPerson,
    dtstamp: dt.datetime,
    prodid: str,
) -> tuple[bytes, bytes] | None:
    """The calendar before and after its ATTENDEE line, or None if that line is not found once.

    Equal datetimes in other zones give the same bytes: every instant is written in UTC.
    """
    whole = _build(method, event, organizer, [_PLACEHOLDER], dtstamp, prodid, _folds_reused)
    # A content line starts after CRLF; a folded continuation starts with CRLF and a space.
    line = b"\r\n" + _attendee_line(method, _PLACEHOLDER)
    if whole.count(line) != 1:
        return None
    head, tail = whole.split(line)
    return head + b"\r\n", tail


@lru_cache(maxsize=8192)
def _attendee_line(method: ItipMethod, attendee: InviteAttendee) -> bytes:
    """The ATTENDEE content line (folded, with its CRLF) as the builders write it."""
    holder = Event()
    holder.add("ATTENDEE", _attendee_address(attendee, method))
    start, end = b"BEGIN:VEVENT\r\n", b"END:VEVENT\r\n"
    body: bytes = holder.to_ical()
    if not (body.startswith(start) and body.endswith(end)):
        raise RuntimeError(f"unexpected serialization of an ATTENDEE: {body!r}")
    return body[len(start) : -len(end)]


def _attendee_address(attendee: InviteAttendee, method: ItipMethod) -> vCalAddress:
    # No PARTSTAT or RSVP in a cancellation: it asks for no reply (None leaves a parameter out).
    asks_reply = method != "CANCEL"
    return vCalAddress.new(
        attendee.email,
        cn=_param_text(attendee.name),
        cutype=CUTYPE.INDIVIDUAL,
        role=_role(attendee),
        partstat=PARTSTAT.NEEDS_ACTION if asks_reply else None,
        rsvp=True if asks_reply else None,
    )


def build_vevent(
    event: EventSnapshot, *, dtstamp: dt.datetime, cancelled: bool | None = None
) -> Event:
    """The VEVENT properties shared by invitations and feeds, with instants in UTC.

    `cancelled` overrides `event.cancelled` for STATUS; no ORGANIZER, ATTENDEE or VALARM.
    """
    is_cancelled = event.cancelled if cancelled is None else cancelled
    return Event.new(
        uid=event.uid,
        sequence=event.sequence,
        stamp=_utc(dtstamp, "dtstamp"),
        start=_utc(event.starts_at, "starts_at"),
        end=_utc(event.ends_at, "ends_at"),
        summary=event.summary,
        description=event.description,
        location=event.location or None,
        url=event.url,
        categories=event.categories,  # a tuple: an empty list would write "CATEGORIES:"
        status=STATUS.CANCELLED if is_cancelled else STATUS.CONFIRMED,
    )


def add_alarms(vevent: Event, event: EventSnapshot) -> None:
    """One display VALARM per reminder offset, in the order given."""
    for offset in event.reminders:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", event.summary)
        alarm.add("TRIGGER", -offset)
        vevent.add_component(alarm)


def _itip_vevent(
    event: EventSnapshot,
    *,
    organizer: CalendarPerson,
    attendees: Sequence[InviteAttendee],
    dtstamp: dt.datetime,
    cancelled: bool = False,
) -> Event:
    if not attendees:
        # Without an ATTENDEE, Gmail and Apple show a plain attachment.
        raise ValueError(f"event {event.uid!r}: an invitation needs at least one attendee")
    vevent = build_vevent(event, dtstamp=dtstamp, cancelled=cancelled)
    # Without ORGANIZER, Outlook makes the recipient the organizer.
    vevent.add("ORGANIZER", vCalAddress.new(organizer.email, cn=_param_text(organizer.name)))
    return vevent


def _itip_calendar(method: str, vevent: Event, *, prodid: str) -> Calendar:
    calendar = Calendar()
    calendar.add("PRODID", prodid)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    calendar.add_component(vevent)
    return calendar


def _serialized(calendar: Calendar) -> bytes:
    body: bytes = calendar.to_ical()
    return body


def _folds_reused(calendar: Calendar) -> bytes:
    """`calendar.to_ical()`, folding each distinct content line once.

    `Component.to_ical` is `Contentlines.to_ical` of `content_lines()`: every non-empty line
    folded on its own, joined and ended by CRLF. Most lines (PRODID, SUMMARY, DESCRIPTION,
    ORGANIZER, the alarms) repeat from one session to the next, and folding is most of the
    cost of writing a calendar.
    """
    lines = calendar.content_lines(sorted=True)
    return b"\r\n".join(_folded_line(str(line)) for line in lines if line) + b"\r\n"


@lru_cache(maxsize=16384)
def _folded_line(line: str) -> bytes:
    content_line = Contentline(line)  # type: ignore[no-untyped-call]
    folded: bytes = content_line.to_ical()  # type: ignore[no-untyped-call]
    return folded


def _role(attendee: InviteAttendee) -> ROLE:
    return ROLE.REQ_PARTICIPANT if attendee.required else ROLE.OPT_PARTICIPANT


def _param_text(name: str) -> str:
    # Parameter values cannot hold '"' or line breaks; Outlook shows RFC 6868 escapes literally.
    return " ".join(name.replace('"', "'").split())


def _utc(value: dt.datetime, what: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value}")
    return value.astimezone(dt.UTC)
