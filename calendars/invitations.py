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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from icalendar import CUTYPE, PARTSTAT, ROLE, STATUS, Alarm, Calendar, Event, vCalAddress

from calendars.ical_types import PRODID, CalendarPerson, EventSnapshot, InviteAttendee

__all__ = ["PRODID", "add_alarms", "build_cancel", "build_request", "build_vevent"]


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
    if event.cancelled:
        # REQUEST with STATUS:CANCELLED leaves the event in attendees' calendars.
        raise ValueError(f"event {event.uid!r} is cancelled: send it with build_cancel")
    vevent = _itip_vevent(event, organizer=organizer, attendees=attendees, dtstamp=dtstamp)
    for attendee in attendees:
        vevent.add(
            "ATTENDEE",
            vCalAddress.new(
                attendee.email,
                cn=_param_text(attendee.name),
                cutype=CUTYPE.INDIVIDUAL,
                role=_role(attendee),
                partstat=PARTSTAT.NEEDS_ACTION,
                rsvp=True,
            ),
        )
    add_alarms(vevent, event)
    return _itip_calendar("REQUEST", vevent, prodid=prodid)


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
    vevent = _itip_vevent(
        event, organizer=organizer, attendees=attendees, dtstamp=dtstamp, cancelled=True
    )
    for attendee in attendees:
        # No RSVP: a cancellation asks for no reply.
        vevent.add(
            "ATTENDEE",
            vCalAddress.new(
                attendee.email,
                cn=_param_text(attendee.name),
                cutype=CUTYPE.INDIVIDUAL,
                role=_role(attendee),
            ),
        )
    return _itip_calendar("CANCEL", vevent, prodid=prodid)


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


def _itip_calendar(method: str, vevent: Event, *, prodid: str) -> bytes:
    calendar = Calendar()
    calendar.add("PRODID", prodid)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    calendar.add_component(vevent)
    body: bytes = calendar.to_ical()
    return body


def _role(attendee: InviteAttendee) -> ROLE:
    return ROLE.REQ_PARTICIPANT if attendee.required else ROLE.OPT_PARTICIPANT


def _param_text(name: str) -> str:
    # Parameter values cannot hold '"' or line breaks; Outlook shows RFC 6868 escapes literally.
    return " ".join(name.replace('"', "'").split())


def _utc(value: dt.datetime, what: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value}")
    return value.astimezone(dt.UTC)
