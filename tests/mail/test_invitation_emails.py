"""Invitations through a real SMTP server: iMIP layout, calendar, language and local time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from accel.database import create_schema, make_engine
from calendars.local_time import format_local_span
from calendars.timeline_types import uid_for
from mail.dispatcher import DispatchReport

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "tests" / "data" / "cohorts" / "small.yaml"


@dataclass
class Delivered:
    engine: sa.Engine
    handler: Any
    report: DispatchReport
    rows: list[Any]

    def message_for(self, email: str, session_key: str) -> EmailMessage:
        row = next(r for r in self.rows if r.email == email and r.subject_key == session_key)
        found = [r for r in self.handler.received if r.message_id == row.message_id]
        assert len(found) == 1, f"{email} {session_key}: {len(found)} messages"
        assert found[0].rcpt_tos == [email]
        message: EmailMessage = found[0].message
        return message


@pytest.fixture(scope="module")
def delivered(
    tmp_path_factory: pytest.TempPathFactory, helpers: Any, settings_for: Any
) -> Iterator[Delivered]:
    """The small cohort applied before the program and every invitation sent over SMTP."""
    folder = tmp_path_factory.mktemp("mail")
    engine = make_engine(f"sqlite:///{folder / 'accel.db'}")
    create_schema(engine)
    # Every invitation due at once (the shipped program paces them three weeks ahead).
    (folder / "programs").mkdir()
    (folder / "cohorts").mkdir()
    program = (REPO / "programs" / "cda-accelerator.yaml").read_text()
    (folder / "programs" / "cda-accelerator.yaml").write_text(
        helpers.immediate_invitations(program)
    )
    (folder / "cohorts" / "small.yaml").write_text(SMALL.read_text())
    helpers.apply(engine, folder / "cohorts" / "small.yaml")
    handler = helpers.handler()
    port = helpers.free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    try:
        report = helpers.dispatch(engine, settings_for(port), now=helpers.before_program)
    finally:
        controller.stop()
    yield Delivered(engine, handler, report, helpers.outbox_rows(engine, kind="invitation"))
    engine.dispose()


def children(part: EmailMessage) -> list[EmailMessage]:
    payload = part.get_payload()
    assert isinstance(payload, list)
    return [p for p in payload if isinstance(p, EmailMessage)]


def calendar_part(message: EmailMessage) -> EmailMessage:
    alternative = children(message)[0]
    return children(alternative)[2]


def test_every_invitation_is_delivered_once_and_recorded(delivered: Delivered) -> None:
    rows = delivered.rows
    assert len(rows) == 373 and delivered.report.sent == 373
    assert delivered.report.failed == delivered.report.retried == 0
    ids = delivered.handler.ids()
    assert set(ids) == {r.message_id for r in rows} and set(ids.values()) == {1}
    assert {r.status for r in rows} == {"sent"} and all(r.attempts == 1 for r in rows)
    assert all(r.sent_at is not None and r.subject for r in rows)


def test_layout_is_the_one_gmail_and_outlook_read(delivered: Delivered) -> None:
    message = delivered.message_for(
        "c.soto@santiago.example.org", "test-small/coaching/santiago/01"
    )
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = children(message)
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in children(alternative)] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    calendar = children(alternative)[2]
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content_charset() == "utf-8"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == calendar.get_content().encode()
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["In-Reply-To"] is None


def test_every_calendar_parses_and_names_only_its_recipient(delivered: Delivered) -> None:
    for received in delivered.handler.received:
        message = received.message
        part = calendar_part(message)
        calendar = icalendar.Calendar.from_ical(part.get_content())
        assert str(calendar["METHOD"]) == part.get_param("method") == "REQUEST"
        (event,) = calendar.walk("VEVENT")
        attendees = event.get("ATTENDEE")
        assert not isinstance(attendees, list), "one attendee per message, never the cohort"
        assert str(attendees).lower() == f"mailto:{received.rcpt_tos[0]}"
        # Sent from the ORGANIZER's address: some clients ignore updates from anyone else.
        sender = parseaddr(str(message["From"]))[1]
        assert (
            str(event["ORGANIZER"]).lower() == f"mailto:{sender}" == f"mailto:{received.mail_from}"
        )
        assert event.decoded("SEQUENCE") == 0


@pytest.mark.parametrize(
    ("email", "session", "zone", "language", "subject"),
    [
        (
            "c.soto@santiago.example.org",
            "test-small/coaching/santiago/01",
            "America/Santiago",
            "es",
            "Invitación: Sesión de coaching",
        ),
        (
            "bruno@govex.example.org",
            "test-small/coaching/asuncion/01",
            "America/Sao_Paulo",
            "pt",
            "Convite: Sessão de coaching",
        ),
        (
            "ana@govex.example.org",
            "test-small/coaching/mexico-city/01",
            "America/New_York",
            "en",
            "Invitation: Coaching session",
        ),
        (
            "m.duarte@asuncion.example.org",
            "test-small/masterclass/03",
            "America/Asuncion",
            "es",
            "Invitación: Clase magistral",
        ),
    ],
)
def test_each_recipient_gets_their_language_and_local_time(
    delivered: Delivered, email: str, session: str, zone: str, language: str, subject: str
) -> None:
    message = delivered.message_for(email, session)
    assert str(message["Subject"]).startswith(subject)
    event = icalendar.Calendar.from_ical(calendar_part(message).get_content()).walk("VEVENT")[0]
    assert event["UID"] == uid_for(session, "cda-accelerator")
    starts, ends = event.decoded("DTSTART"), event.decoded("DTEND")
    assert starts.utcoffset() == dt.timedelta(0)  # instants in UTC, no VTIMEZONE to misread
    # The recipient's own zone, named, in their language: "martes 16 de julio de 2024, 10:00–11:00
    # (hora de Santiago, UTC−4)".
    shown = format_local_span(starts, ends, zone, language)
    assert f"{starts.astimezone(ZoneInfo(zone)):%H:%M}" in shown
    text, html = (p.get_content() for p in children(children(message)[0])[:2])
    assert shown in text
    assert shown.split(" (")[1].rstrip(")") in html
