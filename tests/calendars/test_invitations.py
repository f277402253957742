"""iTIP invitations and cancellations: structure, instants read by three parsers, fixtures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import icalendar
import pytest
import vobject

from calendars.ical_types import CalendarPerson, EventSnapshot, InviteAttendee
from calendars.invitations import PRODID, build_cancel, build_request

MakeEvent = Callable[..., EventSnapshot]
SENT_AT = dt.datetime(2024, 8, 5, 15, 30, tzinfo=dt.UTC)


def only_vevent(data: bytes) -> Any:
    """The single VEVENT of a message, after checking there is exactly one VCALENDAR.

    Typed `Any`: property values are read dynamically, as any client would.
    """
    assert data.count(b"BEGIN:VCALENDAR") == 1
    assert data.count(b"BEGIN:VEVENT") == 1
    calendars = list(vobject.readComponents(data.decode("utf-8")))
    assert len(calendars) == 1
    assert len(calendars[0].contents["vevent"]) == 1
    vevents = icalendar.Calendar.from_ical(data).events
    assert len(vevents) == 1
    return vevents[0]


def assert_wire_format(data: bytes) -> None:
    """CRLF after every line, no bare LF, and folded to at most 75 octets."""
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert all(len(line) <= 75 for line in lines)


@pytest.mark.parametrize("kind", ["request", "cancel"])
def test_every_parser_reads_the_same_utc_instants(
    kind: str,
    zone: str,
    series: list[EventSnapshot],
    organizer: CalendarPerson,
    mayor: InviteAttendee,
    parse: Callable[[bytes], dict[str, list[Any]]],
    check_instants: Callable[..., None],
) -> None:
    build = build_request if kind == "request" else build_cancel
    for event in series:
        data = build(event, organizer=organizer, attendees=[mayor], dtstamp=SENT_AT)
        assert b"VTIMEZONE" not in data
        assert b"TZID" not in data
        check_instants(parse(data), [event], zone)


def test_request_names_organizer_and_attendee_with_rsvp(
    make_event: MakeEvent, organizer: CalendarPerson, mayor: InviteAttendee
) -> None:
    event = make_event()
    data = build_request(event, organizer=organizer, attendees=[mayor], dtstamp=SENT_AT)
    assert_wire_format(data)
    calendar = icalendar.Calendar.from_ical(data)
    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"] == PRODID

    vevent = only_vevent(data)
    assert vevent["UID"] == event.uid
    assert vevent["STATUS"] == "CONFIRMED"
    assert vevent["SUMMARY"] == event.summary
    assert vevent["DESCRIPTION"] == event.description
    assert vevent["LOCATION"] == event.location
    assert vevent["URL"] == event.url
    assert vevent.stamp == SENT_AT

    assert str(vevent["ORGANIZER"]) == "mailto:accelerator@cda.example.org"
    assert vevent["ORGANIZER"].params["CN"] == "CDA Accelerator, GovEx"

    attendee = vevent["ATTENDEE"]  # a single value, not a list: exactly one attendee
    assert str(attendee) == "mailto:alcaldesa@muni.example.cl"
    assert dict(attendee.params) == {
        "CN": "Ana Pérez",
        "CUTYPE": "INDIVIDUAL",
        "PARTSTAT": "NEEDS-ACTION",
        "ROLE": "REQ-PARTICIPANT",
        "RSVP": "TRUE",
    }

    # An independent parser sees the same people.
    vevent_vo = vobject.readOne(data.decode("utf-8")).vevent
    assert vevent_vo.organizer.value == "mailto:accelerator@cda.example.org"
    assert vevent_vo.attendee.params["ROLE"] == ["REQ-PARTICIPANT"]
    assert vevent_vo.attendee.params["RSVP"] == ["TRUE"]


@pytest.mark.parametrize(
    ("required", "role"), [(True, "REQ-PARTICIPANT"), (False, "OPT-PARTICIPANT")]
)
def test_role_follows_required(
    required: bool, role: str, make_event: MakeEvent, organizer: CalendarPerson
) -> None:
    mayor = InviteAttendee(email="mayor@city.example.org", name="Mayor Reyes", required=required)
    data = build_request(make_event(), organizer=organizer, attendees=[mayor], dtstamp=SENT_AT)
    assert only_vevent(data)["ATTENDEE"].params["ROLE"] == role


def test_lists_only_the_recipients_given(
    make_event: MakeEvent,
    organizer: CalendarPerson,
    mayor: InviteAttendee,
    advisor: InviteAttendee,
) -> None:
    data = build_request(make_event(), organizer=organizer, attendees=[advisor], dtstamp=SENT_AT)
    assert data.count(b"ATTENDEE") == 1
    assert mayor.email.encode() not in data
    assert only_vevent(data)["ATTENDEE"].params["ROLE"] == "OPT-PARTICIPANT"

    both = build_request(
        make_event(), organizer=organizer, attendees=[mayor, advisor], dtstamp=SENT_AT
    )
    addresses = [str(a) for a in only_vevent(both)["ATTENDEE"]]
    assert addresses == ["mailto:alcaldesa@muni.example.cl", "mailto:asesor@muni.example.cl"]


def test_one_alarm_per_reminder(
    make_event: MakeEvent, organizer: CalendarPerson, mayor: InviteAttendee
) -> None:
    reminders = (dt.timedelta(days=1), dt.timedelta(minutes=30), dt.timedelta(hours=2))
    event = make_event(reminders=reminders)
    data = build_request(event, organizer=organizer, attendees=[mayor], dtstamp=SENT_AT)
    alarms = only_vevent(data).walk("VALARM")
    assert [alarm["TRIGGER"].dt for alarm in alarms] == [-r for r in reminders]
    assert {str(alarm["ACTION"]) for alarm in alarms} == {"DISPLAY"}
    assert {str(alarm["DESCRIPTION"]) for alarm in alarms} == {event.summary}
    assert b"TRIGGER:-PT30M\r\n" in data
    assert b"TRIGGER:-PT2H\r\n" in data

    no_alarms = build_request(
        make_event(reminders=()), organizer=organizer, attendees=[mayor], dtstamp=SENT_AT
    )
    assert b"VALARM" not in no_alarms


def test_update_keeps_uid_and_raises_sequence_with_fresh_dtstamp(
    make_event: MakeEvent, organizer: CalendarPerson, mayor: InviteAttendee
) -> None:
    first = make_event(sequence=0)
    moved = make_event(
        sequence=1, starts_at=first.starts_at + dt.timedelta(days=1), last_changed=SENT_AT
    )
    resent_at = SENT_AT + dt.timedelta(days=3)

    original = only_vevent(
        build_request(first, organizer=organizer, attendees=[mayor], dtstamp=SENT_AT)
    )
    update = only_vevent(
        build_request(moved, organizer=organizer, attendees=[mayor], dtstamp=resent_at)
    )
    assert update["UID"] == original["UID"]
    assert update["SEQUENCE"] == original["SEQUENCE"] + 1 == 1
    assert update.stamp == resent_at > original.stamp
    assert update.start == moved.starts_at


def test_cancel_removes_the_attendee(
    make_event: MakeEvent, organizer: CalendarPerson, mayor: InviteAttendee
) -> None:
    event = make_event(sequence=2)
    data = build_cancel(event, organizer=organizer, attendees=[mayor], dtstamp=SENT_AT)
    assert_wire_format(data)
    assert icalendar.Calendar.from_ical(data)["METHOD"] == "CANCEL"
    vevent = only_vevent(data)
    assert vevent["UID"] == event.uid
    assert vevent["SEQUENCE"] == 2
    assert vevent["STATUS"] == "CANCELLED"
    assert vevent.stamp == SENT_AT
    assert str(vevent["ORGANIZER"]) == "mailto:accelerator@cda.example.org"
    assert str(vevent["ATTENDEE"]) == "mailto:alcaldesa@muni.example.cl"
    assert "RSVP" not in vevent["ATTENDEE"].params
    assert vevent.walk("VALARM") == []
    assert b"METHOD:CANCEL\r\n" in data


def test_request_refuses_a_cancelled_event(
    make_event: MakeEvent, organizer: CalendarPerson, mayor: InviteAttendee
) -> None:
    # REQUEST + STATUS:CANCELLED leaves the event in calendars: it must go out as CANCEL.
    with pytest.raises(ValueError, match="build_cancel"):
        build_request(
            make_event(cancelled=True), organizer=organizer, attendees=[mayor], dtstamp=SENT_AT
        )


def test_refuses_messages_without_attendees_or_with_naive_times(
    make_event: MakeEvent, organizer: CalendarPerson, mayor: InviteAttendee
) -> None:
    with pytest.raises(ValueError, match="at least one attendee"):
        build_request(make_event(), organizer=organizer, attendees=[], dtstamp=SENT_AT)
    with pytest.raises(ValueError, match="dtstamp must be timezone-aware"):
        build_cancel(
            make_event(), organizer=organizer, attendees=[mayor], dtstamp=dt.datetime(2024, 8, 5)
        )
    with pytest.raises(ValueError, match="starts_at must be timezone-aware"):
        make_event(starts_at=dt.datetime(2024, 9, 17, 10, 0))


def test_names_cannot_break_parameters(make_event: MakeEvent, organizer: CalendarPerson) -> None:
    person = InviteAttendee(email="x@city.example.org", name='Ana "La Jefa"\nPérez', required=True)
    data = build_request(make_event(), organizer=organizer, attendees=[person], dtstamp=SENT_AT)
    assert only_vevent(data)["ATTENDEE"].params["CN"] == "Ana 'La Jefa' Pérez"
    assert b"^'" not in data  # no RFC 6868 escapes, which Outlook shows literally


def test_dtstamp_given_in_another_zone_is_written_in_utc(
    make_event: MakeEvent, organizer: CalendarPerson, mayor: InviteAttendee
) -> None:
    local = SENT_AT.astimezone(dt.timezone(dt.timedelta(hours=-4)))
    data = build_request(make_event(), organizer=organizer, attendees=[mayor], dtstamp=local)
    assert b"DTSTAMP:20240805T153000Z\r\n" in data


# Checked-in messages: the exact bytes a client receives, DTSTAMP pinned.
def fixture_event(make_event: MakeEvent, *, sequence: int) -> EventSnapshot:
    return make_event(
        uid="santiago.mayor-checkin-2@cda-2024.accelerator",
        sequence=sequence,
        starts_at=dt.datetime(2024, 9, 17, 13, 0, tzinfo=dt.UTC),  # 10:00 in Santiago (-03)
        summary="Reunión de seguimiento con la alcaldesa",
        description=(
            "Revisión del plan de datos de la ciudad; traer el informe de avance, "
            "los indicadores acordados y las preguntas para el equipo de GovEx."
        ),
        location="Sala virtual del Acelerador",
        categories=("Acelerador", "Seguimiento"),
    )


@pytest.mark.parametrize(
    ("name", "kind", "sequence"),
    [("request_santiago_checkin.ics", "request", 0), ("cancel_santiago_checkin.ics", "cancel", 1)],
)
def test_matches_checked_in_fixture(
    name: str,
    kind: str,
    sequence: int,
    make_event: MakeEvent,
    organizer: CalendarPerson,
    mayor: InviteAttendee,
    advisor: InviteAttendee,
    ics_fixture: Callable[[str], bytes],
    parse: Callable[[bytes], dict[str, list[Any]]],
) -> None:
    event = fixture_event(make_event, sequence=sequence)
    build = build_request if kind == "request" else build_cancel
    data = build(event, organizer=organizer, attendees=[mayor, advisor], dtstamp=SENT_AT)
    expected = ics_fixture(name)
    assert data == expected
    assert_wire_format(expected)
    for parser, events in parse(expected).items():
        assert [(e.uid, e.starts_at, e.ends_at) for e in events] == [
            (event.uid, event.starts_at, event.ends_at)
        ], parser
