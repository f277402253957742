"""Issue 16, item 1: names that look like RFC 2047 encoded words stay literal text, over SMTP.

Validation refuses such names (tests/data/bad/), so here they go straight to the writer, as if
a name had reached it some other way: the message aiosmtpd receives has exactly the headers we
wrote, its envelope only our recipient, and every display name reads back as the characters
given. A display name made to look like an address (`Boss <ceo@…>`) is accepted by `validate`,
so it also goes the whole way: cohort file, apply, dispatch, SMTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from email.headerregistry import Address
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mail.mime import OutgoingEmail, make_message_id, message_bytes
from mail.senders import Envelope, SmtpOptions, SmtpSender

ISSUE_NAME = (
    "=?utf-8?q?Camila=0D=0ABcc:_everyone@evil.example.org=0D=0A"
    "Reply-To:_attacker@evil.example.org?="
)
HOSTILE_NAMES = [
    ISSUE_NAME,
    "=?utf-8?q?=00=07?=",
    "=?utf-8?q?Boss_<ceo@govex.example.org>?=",
    "Boss <ceo@govex.example.org>",
]
OUR_HEADERS = [
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
]
ORGANIZER = "accelerator@govex.example.org"
RECIPIENT = "c.soto@santiago.example.org"
REPLY_TO = "help@govex.example.org"


def outgoing(*, sender_name: str, to_name: str) -> OutgoingEmail:
    return OutgoingEmail(
        sender_name=sender_name,
        sender_email=ORGANIZER,
        to_name=to_name,
        to_email=RECIPIENT,
        subject="Invitation: Coaching",
        text="The body we wrote.\n",
        html="<p>The body we wrote.</p>\n",
        message_id=make_message_id("encoded-word-test", "govex.example.org"),
        date=dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
        reply_to=REPLY_TO,
    )


def send(port: int, email: OutgoingEmail) -> None:
    async def run() -> None:
        sender = SmtpSender(SmtpOptions(host="127.0.0.1", port=port, timeout=10))
        try:
            await sender.send(Envelope(1, "test", ORGANIZER, RECIPIENT, message_bytes(email)))
        finally:
            await sender.aclose()

    asyncio.run(run())


def display_name(header: Any) -> str:
    (address,) = header.addresses
    assert isinstance(address, Address)
    return str(address.display_name)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("field", ["to_name", "sender_name"])
def test_an_encoded_word_in_a_name_stays_literal_over_smtp(
    smtp_server: Any, helpers: Any, name: str, field: str
) -> None:
    names = {"sender_name": "GovEx Test", "to_name": "Camila Soto"} | {field: name}
    send(smtp_server.port, outgoing(**names))

    (received,) = smtp_server.handler.received
    assert received.mail_from == ORGANIZER
    assert received.rcpt_tos == [RECIPIENT]  # the envelope: only ours
    head = received.content.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "\x00" not in head and "\x07" not in head
    message = helpers.parse(received.content)
    assert list(message.keys()) == OUR_HEADERS  # one of each, no Bcc, no second Reply-To
    assert message.get_all("Bcc") is None
    assert [str(v) for v in message.get_all("Reply-To")] == [REPLY_TO]
    for header, address in (("From", ORGANIZER), ("To", RECIPIENT)):
        (parsed,) = message[header].addresses
        assert parsed.addr_spec == address
    assert display_name(message["From"]) == names["sender_name"]
    assert display_name(message["To"]) == names["to_name"]
    body = message.get_body(("plain",))
    assert body is not None and body.get_content().rstrip() == "The body we wrote."


def test_a_spoofing_display_name_reaches_the_inbox_as_text(
    sqlite_engine: sa.Engine,
    tiny_workspace: Path,
    helpers: Any,
    smtp_server: Any,
    settings_for: Any,
) -> None:
    spoof = "Boss <ceo@govex.example.org>"
    helpers.edit(tiny_workspace, "{name: Camila Soto,", f'{{name: "{spoof}",')
    helpers.apply(sqlite_engine, tiny_workspace)
    settings = settings_for(smtp_server.port)
    report = helpers.dispatch(sqlite_engine, settings, now=helpers.before_program)
    assert report.sent > 0 and not report.errors
    to_her = smtp_server.handler.to(RECIPIENT)
    assert to_her
    for received in smtp_server.handler.received:
        assert "ceo@govex.example.org" not in received.rcpt_tos
    for received in to_her:
        message = helpers.parse(received.content)
        assert len(message.get_all("To")) == 1
        (parsed,) = message["To"].addresses
        assert (parsed.display_name, parsed.addr_spec) == (spoof, RECIPIENT)
        assert message.get_all("Bcc") is None
