"""MIME messages parsed back: part order, calendar method, safe headers, stable ids and bytes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import doctest
import email.policy
import re
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import icalendar
import pytest

from mail import headers, mime
from mail.mime import OutgoingEmail, calendar_method_of, make_message_id, message_bytes
from mail.templates import render_email

UTC = dt.UTC
DATE = dt.datetime(2024, 8, 5, 15, 30, tzinfo=UTC)
DOMAIN = "govex.example.org"


def calendar_bytes(method: str | None = "REQUEST", *, summary: str = "Sesión de coaching") -> bytes:
    """An iMIP calendar as the invitation builder makes them (icalendar, UTC times)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//GovEx City Data Alliance//Accelerator//EN")
    cal.add("version", "2.0")
    if method:
        cal.add("method", method)
    event = icalendar.Event()
    event.add("uid", "cda-2024.coaching.santiago.3@cda-accelerator.accelerator")
    event.add("dtstamp", DATE)
    event.add("dtstart", dt.datetime(2024, 9, 10, 13, tzinfo=UTC))
    event.add("dtend", dt.datetime(2024, 9, 10, 14, tzinfo=UTC))
    event.add("summary", summary)
    event.add("description", "Reunión periódica de su ciudad con su coach de GovEx. " * 4)
    event.add("organizer", "mailto:accelerator@govex.example.org", parameters={"CN": "GovEx"})
    event.add("attendee", "mailto:c.soto@santiago.example.org", parameters={"CN": "Camila Soto"})
    event.add("sequence", 1 if method == "CANCEL" else 0)
    if method == "CANCEL":
        event.add("status", "CANCELLED")
    cal.add_component(event)
    data: bytes = cal.to_ical()
    return data


# A Spanish invitation, without its calendar.
MESSAGE = OutgoingEmail(
    sender_name="GovEx City Data Alliance",
    sender_email="accelerator@govex.example.org",
    reply_to="help@govex.example.org",
    to_name="Camila Soto",
    to_email="c.soto@santiago.example.org",
    subject="Invitación: Sesión de coaching — martes 10 de septiembre de 2024",
    text="Hola, Camila Soto:\n\nLe invitamos a la sesión.\n",
    html="<p>Hola, Camila Soto:</p>\n<p>Le invitamos a la sesión.</p>\n",
    message_id=make_message_id("invitation/santiago/coaching-3/c.soto", DOMAIN),
    date=DATE,
)


def build(**changes: Any) -> bytes:
    return message_bytes(dataclasses.replace(MESSAGE, **changes))


def parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def children(part: EmailMessage) -> list[EmailMessage]:
    payload = part.get_payload()
    assert isinstance(payload, list)
    parts = [p for p in payload if isinstance(p, EmailMessage)]
    assert len(parts) == len(payload)
    return parts


def lf(text: str) -> str:
    """Line ends as written: decoded quoted-printable keeps the CRLF of the wire."""
    return text.replace("\r\n", "\n")


@pytest.mark.parametrize("module", [mime, headers])
def test_doctests(module: Any) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
def test_invitation_layout(method: str) -> None:
    ics = calendar_bytes(method)
    message = parse(build(calendar=ics, calendar_method=method))

    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = children(message)
    # Outlook 2007 reads only the first child of multipart/mixed: the alternative with the calendar.
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in children(alternative)] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    plain, html, calendar = children(alternative)
    assert lf(plain.get_content()) == "Hola, Camila Soto:\n\nLe invitamos a la sesión.\n"
    assert "<p>Le invitamos a la sesión.</p>" in html.get_content()

    assert calendar.get_content_charset() == "utf-8"
    assert calendar.get_param("method") == method
    method_lines = re.findall(r"^METHOD:(.*)$", lf(calendar.get_content()), re.MULTILINE)
    assert method_lines == [method]
    assert lf(calendar.get_content()).replace("\n", "\r\n") == ics.decode("utf-8")

    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content() == ics


def test_the_method_defaults_to_the_calendars_own() -> None:
    message = parse(build(calendar=calendar_bytes("CANCEL")))
    calendar = children(children(message)[0])[2]
    assert calendar.get_param("method") == "CANCEL"


def test_without_a_calendar_only_text_and_html() -> None:
    message = parse(build())
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in children(message)] == ["text/plain", "text/html"]
    assert not any(p.get_content_type() == "text/calendar" for p in message.walk())
    assert not any(p.get_filename() for p in message.walk())


@pytest.mark.parametrize(
    ("ics", "method", "error"),
    [
        (calendar_bytes("REQUEST"), "CANCEL", "differs"),
        (calendar_bytes(None), "REQUEST", "no METHOD"),
        (calendar_bytes(None), None, "no METHOD"),
        (calendar_bytes("PUBLISH"), None, "REQUEST or CANCEL"),
        (calendar_bytes("REQUEST") + calendar_bytes("REQUEST"), None, "exactly one VCALENDAR"),
        (
            calendar_bytes("REQUEST").replace(
                b"METHOD:REQUEST", b"METHOD:REQUEST\r\nMETHOD:CANCEL"
            ),
            None,
            "conflicting",
        ),
        (calendar_bytes("REQUEST").replace("ó".encode(), b"\xf3"), None, "utf-8"),
    ],
)
def test_calendar_and_method_must_agree(ics: bytes, method: str | None, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        build(calendar=ics, calendar_method=method)


def test_a_method_without_a_calendar_is_an_error() -> None:
    with pytest.raises(ValueError, match="without a calendar"):
        build(calendar_method="REQUEST")


def test_method_line_is_read_after_unfolding_and_in_any_case() -> None:
    ics = calendar_bytes("REQUEST").replace(b"METHOD:REQUEST", b"method:REQ\r\n UEST")
    assert calendar_method_of(ics) == "REQUEST"
    message = parse(build(calendar=ics, calendar_method="request"))
    assert children(children(message)[0])[2].get_param("method") == "REQUEST"


INJECTION = "Eve\r\nBcc: victim@example.org"


@pytest.mark.parametrize("field", ["to_name", "sender_name", "subject"])
def test_header_injection_is_impossible(field: str) -> None:
    raw = build(**{field: INJECTION})
    parsed = parse(raw)

    assert parsed["Bcc"] is None
    assert b"\r\nBcc:" not in raw and b"\nBcc:" not in raw
    assert len(parsed["To"].addresses) == 1
    assert parsed["To"].addresses[0].addr_spec == "c.soto@santiago.example.org"
    assert len(parsed["From"].addresses) == 1
    for name in ("To", "From", "Subject"):
        assert "\r" not in str(parsed[name]) and "\n" not in str(parsed[name])
    assert "Eve Bcc: victim@example.org" in str(parsed[field_header(field)])


def field_header(field: str) -> str:
    return {"to_name": "To", "sender_name": "From", "subject": "Subject"}[field]


# Text that a reader would decode, if it were written as it is, into a CR LF and a Bcc header.
ENCODED_INJECTION = "=?utf-8?q?Camila=0D=0ABcc:_x@evil.example.org?="
HEADERS = ["From", "To", "Reply-To", "Subject", "Date", "Message-ID", "Auto-Submitted"]


@pytest.mark.parametrize("field", ["to_name", "sender_name", "subject"])
def test_text_that_looks_like_an_encoded_word_stays_that_text(field: str) -> None:
    raw = build(**{field: ENCODED_INJECTION})
    parsed = parse(raw)

    assert list(parsed.keys()) == [*HEADERS, "MIME-Version", "Content-Type"]
    assert parsed["Bcc"] is None
    assert not re.search(rb"^Bcc|[\r\n]Bcc", raw.split(b"\r\n\r\n", 1)[0])
    assert [a.addr_spec for a in parsed["To"].addresses] == ["c.soto@santiago.example.org"]
    assert [a.addr_spec for a in parsed["From"].addresses] == ["accelerator@govex.example.org"]
    if field == "subject":
        assert str(parsed["Subject"]) == ENCODED_INJECTION
    else:
        header = parsed[field_header(field)]
        assert [a.display_name for a in header.addresses] == [ENCODED_INJECTION]
        assert not header.defects
    for name in HEADERS:
        assert "\r" not in str(parsed[name]) and "\n" not in str(parsed[name])


def test_a_long_name_with_a_comma_stays_one_address() -> None:
    name = "Fuentes, Valentina (Alcaldesa de Santiago), Oficina de la Alcaldía " + "x" * 30
    parsed = parse(build(to_name=name.replace("í", "i")))
    assert [(a.display_name, a.addr_spec) for a in parsed["To"].addresses] == [
        (name.replace("í", "i"), "c.soto@santiago.example.org")
    ]


def test_other_control_characters_are_removed_from_names() -> None:
    parsed = parse(build(to_name="Camila\x00\x1b Soto\u2028", subject="Hola\tmundo\x7f"))
    assert parsed["To"].addresses[0].display_name == "Camila Soto"
    assert str(parsed["Subject"]) == "Hola mundo"


@pytest.mark.parametrize(
    "field",
    ["to_email", "sender_email", "reply_to"],
)
@pytest.mark.parametrize(
    "address",
    [
        "c.soto@santiago.example.org\r\nBcc: victim@example.org",
        "c.soto@santiago.example.org, victim@example.org",
        "Camila <c.soto@santiago.example.org>",
        "not an address",
        "c.soto@",
        "",
    ],
)
def test_bad_addresses_are_refused_not_repaired(field: str, address: str) -> None:
    with pytest.raises(ValueError, match="not an email address"):
        build(**{field: address})


@pytest.mark.parametrize("field", ["message_id", "in_reply_to"])
def test_ids_with_line_breaks_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        build(**{field: "<abc@govex.example.org>\r\nBcc: victim@example.org"})
    with pytest.raises(ValueError, match="Message-ID"):
        build(**{field: "abc@govex.example.org"})


def test_non_ascii_names_are_encoded_words_and_the_message_is_7bit() -> None:
    raw = build(
        to_name="Tomás Herrera",
        to_email="t.herrera@santiago.example.org",
        sender_name="Acelerador · São Paulo",
        subject="Convite: Sessão de coaching — terça-feira, 10 de setembro de 2024",
        calendar=calendar_bytes("REQUEST"),
    )
    assert raw.isascii()  # passes relays without 8BITMIME
    headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii").replace("\r\n ", " ")
    to_line = next(line for line in headers.split("\r\n") if line.startswith("To: "))
    assert re.fullmatch(r"To: =\?utf-8\?[qb]\?.+\?= .*<t\.herrera@santiago\.example\.org>", to_line)
    assert "=?utf-8?" in headers.split("Subject:", 1)[1]
    parsed = parse(raw)
    assert parsed["To"].addresses[0].display_name == "Tomás Herrera"
    assert parsed["From"].addresses[0].display_name == "Acelerador · São Paulo"
    assert (
        str(parsed["Subject"])
        == "Convite: Sessão de coaching — terça-feira, 10 de setembro de 2024"
    )
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_headers_from_arguments_not_from_the_clock() -> None:
    santiago = dt.timezone(-dt.timedelta(hours=3))
    date = dt.datetime(2024, 9, 10, 10, 0, tzinfo=santiago)
    parsed = parse(
        build(
            date=date,
            in_reply_to=make_message_id("invitation/santiago/coaching-3/c.soto", DOMAIN),
            references=(make_message_id("invitation/santiago/coaching-3/c.soto", DOMAIN),),
        )
    )
    assert parsed["Date"].datetime == date
    assert str(parsed["Date"]) == "Tue, 10 Sep 2024 10:00:00 -0300"
    assert parsed["Message-ID"] == make_message_id("invitation/santiago/coaching-3/c.soto", DOMAIN)
    assert parsed["In-Reply-To"] == parsed["Message-ID"]
    assert parsed["References"] == parsed["Message-ID"]
    assert parsed["Reply-To"].addresses[0].addr_spec == "help@govex.example.org"
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert all(part["MIME-Version"] is None for part in list(parsed.walk())[1:])


def test_no_reply_to_when_none() -> None:
    assert parse(build(reply_to=None))["Reply-To"] is None


def test_naive_dates_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        build(date=dt.datetime(2024, 8, 5, 15, 30))


def test_message_ids_are_stable_per_key() -> None:
    first = make_message_id("reminder/santiago/coaching-3/P1D/c.soto", DOMAIN)
    assert first == make_message_id("reminder/santiago/coaching-3/P1D/c.soto", DOMAIN)
    assert first != make_message_id("reminder/santiago/coaching-4/P1D/c.soto", DOMAIN)
    assert re.fullmatch(r"<[0-9a-f]{32}@govex\.example\.org>", first)
    for domain in ("govex.example.org>\r\nBcc: x", "", "a b.org", "-bad.org"):
        with pytest.raises(ValueError, match="domain"):
            make_message_id("k", domain)


def test_the_same_message_has_the_same_bytes() -> None:
    ics = calendar_bytes("REQUEST")
    first = build(calendar=ics)
    assert build(calendar=ics) == first
    assert build(calendar=ics, text="Otro texto.\n") != first


@pytest.mark.parametrize(
    ("language", "zone", "name"),
    [
        ("es", "America/Santiago", "Camila Soto"),
        ("pt", "America/Sao_Paulo", "Thiago Barros"),
        ("en", "America/New_York", "Ana Torres"),
    ],
)
def test_a_rendered_invitation_survives_the_round_trip(language: str, zone: str, name: str) -> None:
    context = {
        "recipient": {"name": name, "timezone": zone},
        "sender": {
            "name": "GovEx City Data Alliance",
            "email": "accelerator@govex.example.org",
            "reply_to": None,
        },
        "program": {"name": "City Data Alliance Accelerator"},
        "session": {
            "kind": "coaching",
            "title": "Sesión de coaching",
            "description": None,
            "starts_at": dt.datetime(2024, 9, 10, 13, tzinfo=UTC),
            "ends_at": dt.datetime(2024, 9, 10, 14, tzinfo=UTC),
            "location": "",
            "meeting_url": "https://meet.example.org/cda-2024/santiago",
            "interpreted": False,
            "venue_timezone": None,
        },
    }
    rendered = render_email("invitation", language, context)
    parsed = parse(
        build(
            to_name=name,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            calendar=calendar_bytes("REQUEST"),
        )
    )
    plain, html, _calendar = children(children(parsed)[0])
    assert str(parsed["Subject"]) == rendered.subject
    assert lf(plain.get_content()) == rendered.text
    assert lf(html.get_content()) == rendered.html
