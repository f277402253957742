"""Write the MIME message of one email: text, HTML and, for invitations, the iMIP calendar parts.

Pure: no clock (the Date header is given), no network. Layout for a calendar, as Gmail and
Outlook expect it (RFC 6047; see /work/shared/INTEROP.md):

    multipart/mixed
        multipart/alternative
            text/plain
            text/html
            text/calendar; charset=utf-8; method=REQUEST|CANCEL
        application/ics  (attachment invite.ics, the same bytes)

Without a calendar the message is a bare multipart/alternative of text and HTML.

`message_bytes` is the one writer: headers from plain values (`mail.headers`), parts encoded
as `email.contentmanager` encodes them and laid out as `email.generator` writes them, so the
bytes are those `EmailMessage.as_bytes()` wrote for the same message (but for the text the
standard library lost, see `mail.headers`), many times faster. Boundaries are derived from
the content: the same message always has the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from base64 import encodebytes
from collections.abc import Sequence
from dataclasses import dataclass
from email import quoprimime
from email.utils import format_datetime
from functools import lru_cache
from typing import Final

from mail.headers import address_line, id_line, text_line

CALENDAR_METHODS: Final = frozenset({"REQUEST", "CANCEL"})
ATTACHMENT_NAME: Final = "invite.ics"

_DOMAIN: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*")
_MESSAGE_ID: Final = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>")
_METHOD_LINE: Final = re.compile(r"^METHOD(?:;[^:\r\n]*)?:(.*)$", re.IGNORECASE | re.MULTILINE)
_VCALENDAR: Final = re.compile(r"^BEGIN:VCALENDAR\s*$", re.IGNORECASE | re.MULTILINE)
_MAX_BODY_LINE: Final = 78  # quoted-printable soft breaks, as `email.policy.SMTP` makes them
_CRLF: Final = b"\r\n"


@dataclass(frozen=True)
class OutgoingEmail:
    """What one message is written from. Names and the subject are plain text, never header
    syntax; addresses and ids are checked, never repaired."""

    sender_name: str
    sender_email: str
    to_name: str
    to_email: str
    subject: str
    text: str
    html: str
    message_id: str  # <id@domain>, as `make_message_id` makes them
    date: dt.datetime  # aware: the Date header
    reply_to: str | None = None
    calendar: bytes | None = None  # an iCalendar object with one VCALENDAR and a METHOD line
    calendar_method: str | None = None  # defaults to the calendar's METHOD line
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()  # bare addresses copied (a mayor's assistant)


def make_message_id(idempotency_key: str, domain: str) -> str:
    """A Message-ID that is the same every time the same message is rendered.

    A retried send keeps its id, so receiving servers and threads see one message.

    >>> make_message_id("invitation/santiago/coaching-3/c.soto@santiago.example.org", "govex.org")
    '<15cb3ecb0f770a65340691cb2b7994bb@govex.org>'
    """
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not a domain for a Message-ID: {domain!r}")
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def message_bytes(email: OutgoingEmail) -> bytes:
    """The message ready for SMTP: CRLF line ends, 7-bit clean; ValueError if it cannot be."""
    method = _checked(email.date, email.calendar, email.calendar_method)
    lines = [
        address_line("From", email.sender_name, email.sender_email),
        address_line("To", email.to_name, email.to_email),
    ]
    lines.extend(address_line("Cc", "", address) for address in email.cc)
    if email.reply_to is not None:
        lines.append(address_line("Reply-To", "", email.reply_to))
    lines.append(text_line("Subject", email.subject))
    lines.append(f"Date: {format_datetime(email.date)}\r\n".encode("ascii"))
    lines.append(id_line("Message-ID", [_message_id(email.message_id)]))
    if email.in_reply_to is not None:
        lines.append(id_line("In-Reply-To", [_message_id(email.in_reply_to)]))
    if email.references:
        lines.append(id_line("References", [_message_id(r) for r in email.references]))
    # RFC 3834: tells vacation responders not to answer a program's automated mail.
    lines.append(b"Auto-Submitted: auto-generated\r\n")
    lines.append(b"MIME-Version: 1.0\r\n")

    calendar = email.calendar
    digest = _content_digest(
        [email.message_id, email.subject, email.text, email.html, calendar or b""]
    )
    texts = [_text_part("plain", email.text), _text_part("html", email.html)]
    if calendar is None or method is None:
        return b"".join([*lines, _multipart("alternative", f"=_0_{digest}", texts)])
    texts.append(_text_part("calendar", calendar.decode("utf-8"), method=method))
    alternative = _multipart("alternative", f"=_1_{digest}", texts)
    attachment = (
        b"Content-Type: application/ics\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="invite.ics"\r\n\r\n'
        + encodebytes(calendar).replace(b"\n", _CRLF)
    )
    return b"".join([*lines, _multipart("mixed", f"=_0_{digest}", [alternative, attachment])])


def calendar_method_of(calendar: bytes) -> str | None:
    """The METHOD property of an iCalendar object, upper-cased; None when it has none."""
    text = re.sub(r"\r?\n[ \t]", "", calendar.decode("utf-8"))  # unfold (RFC 5545 §3.1)
    if len(_VCALENDAR.findall(text)) != 1:
        raise ValueError("an email carries exactly one VCALENDAR (Exchange rejects several)")
    methods = {m.strip().upper() for m in _METHOD_LINE.findall(text)}
    if len(methods) > 1:
        raise ValueError(f"the calendar has conflicting METHOD lines: {sorted(methods)}")
    return methods.pop() if methods else None


def _checked(date: dt.datetime, calendar: bytes | None, given: str | None) -> str | None:
    """The checks made before writing; the calendar's method (None without a calendar)."""
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("the Date header needs an aware datetime")
    if calendar is None:
        if given is not None:
            raise ValueError("calendar_method given without a calendar")
        return None
    in_calendar = calendar_method_of(calendar)
    if in_calendar is None:
        raise ValueError("the calendar has no METHOD line: Outlook would not offer to accept it")
    # Where the Content-Type method and the METHOD line differ, Outlook trusts the line.
    if given is not None and given.strip().upper() != in_calendar:
        raise ValueError(
            f"calendar_method {given!r} differs from the calendar's METHOD:{in_calendar}"
        )
    if in_calendar not in CALENDAR_METHODS:
        raise ValueError(f"METHOD:{in_calendar} is not sent by email here; use REQUEST or CANCEL")
    return in_calendar


def _message_id(value: str) -> str:
    if not _MESSAGE_ID.fullmatch(value):
        raise ValueError(f"not a Message-ID of the form <id@domain>: {value!r}")
    return value


def _transfer_encoding(body: str) -> str:
    # 7-bit clean bodies pass any relay, with or without 8BITMIME.
    short = max(map(len, body.splitlines()), default=0) <= 76
    return "7bit" if body.isascii() and short else "quoted-printable"


def _content_digest(seed: Sequence[str | bytes]) -> str:
    digest = hashlib.sha256()
    for item in seed:
        digest.update(item.encode("utf-8") if isinstance(item, str) else item)
        digest.update(b"\0")
    return digest.hexdigest()[:40]


def _text_part(subtype: str, body: str, *, method: str | None = None) -> bytes:
    """A text part as `set_content(body, subtype=…, cte=…)` makes it and the generator writes it."""
    cte = _transfer_encoding(body)
    lines = body.encode("utf-8").splitlines()
    if cte == "7bit":
        payload = _CRLF.join(lines) + _CRLF
    else:
        payload = _CRLF.join(map(_quoted_printable_line, lines)) + _CRLF
    if method is None:
        head = (
            f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
        )
    else:  # `params` are set last, so Content-Type moves after Content-Transfer-Encoding
        head = (
            f"Content-Transfer-Encoding: {cte}\r\n"
            f'Content-Type: text/{subtype}; charset="utf-8"; method="{method}"\r\n'
        )
    return head.encode("ascii") + _CRLF + payload


@lru_cache(maxsize=32768)
def _quoted_printable_line(line: bytes) -> bytes:
    """One line as `quoprimime.body_encode` encodes it (soft breaks included), CRLF line ends.

    That function encodes each line on its own, so a body is its lines' encodings joined;
    most lines of a template are the same in every message.
    """
    encoded: str = quoprimime.body_encode(line.decode("latin-1"), _MAX_BODY_LINE, "\r\n")
    return encoded.encode("ascii")


def _multipart(subtype: str, boundary: str, parts: Sequence[bytes]) -> bytes:
    """Content-Type, blank line and the parts between boundaries, as the generator writes them."""
    mark = f"--{boundary}".encode("ascii")
    head = f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\n\r\n'
    between = _CRLF + mark + _CRLF
    return b"".join(
        [head.encode("ascii"), mark, _CRLF, between.join(parts), _CRLF, mark, b"--", _CRLF]
    )
