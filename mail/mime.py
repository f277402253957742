"""Build the MIME message of one email: text, HTML and, for invitations, the iMIP calendar parts.

Pure: no clock (the Date header is given), no network. Layout for a calendar, as Gmail and
Outlook expect it (RFC 6047; see /work/shared/INTEROP.md):

    multipart/mixed
        multipart/alternative
            text/plain
            text/html
            text/calendar; charset=utf-8; method=REQUEST|CANCEL
        application/ics  (attachment invite.ics, the same bytes)

Without a calendar the message is a bare multipart/alternative of text and HTML.

`build_message` builds an `EmailMessage`; `message_bytes` writes the same message's bytes
(exactly `build_message(...).as_bytes()`) about twenty times faster, for the dispatcher: each
header is still parsed and folded by the standard library, but one that repeats (From, To,
Subject, Date) only once, and the fixed layout around the parts is written directly.
`tests/calendars/test_mime_bytes.py` checks the two agree on generated inputs.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import re
import unicodedata
from base64 import encodebytes
from collections.abc import Sequence
from email import quoprimime
from email.errors import HeaderParseError
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from typing import Final

CALENDAR_METHODS: Final = frozenset({"REQUEST", "CANCEL"})
ATTACHMENT_NAME: Final = "invite.ics"

_DOMAIN: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*")
_MESSAGE_ID: Final = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>")
_METHOD_LINE: Final = re.compile(r"^METHOD(?:;[^:\r\n]*)?:(.*)$", re.IGNORECASE | re.MULTILINE)
_VCALENDAR: Final = re.compile(r"^BEGIN:VCALENDAR\s*$", re.IGNORECASE | re.MULTILINE)
_HEX_ID: Final = re.compile(r"<([0-9a-f]+)@([A-Za-z0-9.-]+)>")
_POLICY: Final = email.policy.SMTP
_MAX_LINE_LENGTH: Final = _POLICY.max_line_length or 78
_CRLF: Final = b"\r\n"


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


def build_message(
    *,
    sender_name: str,
    sender_email: str,
    reply_to: str | None,
    to_name: str,
    to_email: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: dt.datetime,
    calendar: bytes | None = None,
    calendar_method: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
) -> EmailMessage:
    """One message, ready for SMTP. `calendar_method` defaults to the calendar's METHOD line."""
    method = _checked(date, calendar, calendar_method)

    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = _address(sender_name, sender_email)
    message["To"] = _address(to_name, to_email)
    if reply_to is not None:
        message["Reply-To"] = _address("", reply_to)
    message["Subject"] = clean_header_text(subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = _message_id(message_id)
    if in_reply_to is not None:
        message["In-Reply-To"] = _message_id(in_reply_to)
    if references:
        message["References"] = " ".join(_message_id(r) for r in references)
    # RFC 3834: tells vacation responders not to answer a program's automated mail.
    message["Auto-Submitted"] = "auto-generated"

    message.set_content(text, subtype="plain", cte=_transfer_encoding(text))
    message.add_alternative(html, subtype="html", cte=_transfer_encoding(html))
    if calendar is not None and method is not None:
        ics = calendar.decode("utf-8")
        message.add_alternative(
            ics, subtype="calendar", cte=_transfer_encoding(ics), params={"method": method}
        )
        # Turns the alternative into the first child of a multipart/mixed, where Outlook looks.
        message.add_attachment(
            calendar, maintype="application", subtype="ics", filename=ATTACHMENT_NAME
        )
    _settle_parts(message, seed=[message_id, subject, text, html, calendar or b""])
    return message


def message_bytes(
    *,
    sender_name: str,
    sender_email: str,
    reply_to: str | None,
    to_name: str,
    to_email: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: dt.datetime,
    calendar: bytes | None = None,
    calendar_method: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
) -> bytes:
    """Exactly `build_message(...).as_bytes()`, with the same checks, written directly.

    Every header still goes through the standard library's parser and folder (`_folded`);
    those that repeat across messages are remembered. The parts are encoded as the
    `email.contentmanager` encodes them, and laid out as `email.generator` writes them.
    """
    method = _checked(date, calendar, calendar_method)

    lines = [
        _address_line("From", sender_name, sender_email),
        _address_line("To", to_name, to_email),
    ]
    if reply_to is not None:
        lines.append(_address_line("Reply-To", "", reply_to))
    lines.append(_subject_line(subject))
    lines.append(_repeated_line("Date", format_datetime(date)))
    lines.append(_id_line("Message-ID", _message_id(message_id)))
    if in_reply_to is not None:
        lines.append(_id_line("In-Reply-To", _message_id(in_reply_to)))
    if references:
        lines.append(_id_line("References", " ".join(_message_id(r) for r in references)))
    lines.append(_repeated_line("Auto-Submitted", "auto-generated"))
    lines.append(b"MIME-Version: 1.0\r\n")

    digest = _content_digest([message_id, subject, text, html, calendar or b""])
    texts = [_text_part("plain", text), _text_part("html", html)]
    if calendar is None or method is None:
        return b"".join([*lines, _multipart("alternative", f"=_0_{digest}", texts)])
    ics = calendar.decode("utf-8")
    texts.append(_text_part("calendar", ics, method=method))
    alternative = _multipart("alternative", f"=_1_{digest}", texts)
    attachment = (
        b"Content-Type: application/ics\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="invite.ics"\r\n\r\n'
        + encodebytes(calendar).replace(b"\n", _CRLF)
    )
    return b"".join([*lines, _multipart("mixed", f"=_0_{digest}", [alternative, attachment])])


def clean_header_text(value: str) -> str:
    """A header value on one line: control and line-separator characters become spaces.

    >>> clean_header_text("Eve\\r\\nBcc: victim@example.org")
    'Eve Bcc: victim@example.org'
    """
    if value.isprintable():  # no control, format or line-separator character to replace
        return " ".join(value.split())
    kept = (" " if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} else c for c in value)
    return " ".join("".join(kept).split())


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
    """The checks both writers make first; the calendar's method (None without a calendar)."""
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("the Date header needs an aware datetime")
    return _calendar_method(calendar, given)


def _calendar_method(calendar: bytes | None, given: str | None) -> str | None:
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


def _address(name: str, addr: str) -> Address:
    # An address cannot be repaired the way a name can: refuse anything that is not one.
    if not addr or clean_header_text(addr) != addr or " " in addr:
        raise ValueError(f"not an email address: {addr!r}")
    try:
        # Address encodes a non-ASCII display name as an RFC 2047 encoded word when serialized.
        return Address(display_name=clean_header_text(name), addr_spec=addr)
    except (ValueError, IndexError, HeaderParseError) as error:
        raise ValueError(f"not an email address: {addr!r}") from error


def _message_id(value: str) -> str:
    cleaned = clean_header_text(value)
    if not _MESSAGE_ID.fullmatch(cleaned):
        raise ValueError(f"not a Message-ID of the form <id@domain>: {value!r}")
    return cleaned


def _settle_parts(message: EmailMessage, *, seed: Sequence[str | bytes]) -> None:
    """Boundaries derived from the content, so the same message always has the same bytes."""
    digest = _content_digest(seed)
    # "=_" never occurs in quoted-printable or base64 text, and the hash is of the content itself.
    for level, part in enumerate(p for p in message.walk() if p.is_multipart()):
        part.set_boundary(f"=_{level}_{digest}")
    for part in message.walk():
        if part is not message:
            del part["MIME-Version"]  # only the top level carries it (RFC 2045 §4)


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


def _folded(name: str, value: object) -> bytes:
    """One header line as `message[name] = value` stores it and `as_bytes()` writes it.

    `EmailPolicy.header_store_parse`, with the header class looked up once per name: the
    registry builds a new class on every lookup, which costs more than parsing the value.
    """
    if isinstance(value, str) and len(value.splitlines()) > 1:
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    return _POLICY.fold_binary(name, _header_class(name)(name, value))


@lru_cache(maxsize=64)
def _header_class(name: str) -> type[BaseHeader]:
    registry = _POLICY.header_factory
    if not isinstance(registry, HeaderRegistry):
        raise TypeError(f"{_POLICY!r} has no header registry")
    found: type[BaseHeader] = registry[name]
    return found


def _id_line(name: str, value: str) -> bytes:
    """`_folded(name, value)` for ids as `make_message_id` makes them, without parsing each."""
    shape = _HEX_ID.fullmatch(value)
    if shape is not None and _written_as_is(name, len(shape[1]), shape[2]):
        return f"{name}: {value}\r\n".encode("ascii")
    return _folded(name, value)


@lru_cache(maxsize=256)
def _written_as_is(name: str, length: int, domain: str) -> bool:
    """Whether the standard library writes every `<hex@domain>` id of this length unchanged.

    Hex digits are all plain atext to its parser: one sample speaks for every id of the shape.
    """
    digits = ("0123456789abcdef" * (length // 16 + 1))[:length]
    sample = f"<{digits}@{domain}>"
    return _folded(name, sample) == f"{name}: {sample}\r\n".encode("ascii")


@lru_cache(maxsize=8192)
def _address_line(name: str, display_name: str, addr: str) -> bytes:
    return _folded(name, _address(display_name, addr))


@lru_cache(maxsize=4096)
def _subject_line(subject: str) -> bytes:
    return _folded("Subject", clean_header_text(subject))


@lru_cache(maxsize=256)
def _repeated_line(name: str, value: str) -> bytes:
    return _folded(name, value)


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
    encoded: str = quoprimime.body_encode(line.decode("latin-1"), _MAX_LINE_LENGTH, "\r\n")
    return encoded.encode("ascii")


def _multipart(subtype: str, boundary: str, parts: Sequence[bytes]) -> bytes:
    """Content-Type, blank line and the parts between boundaries, as the generator writes them."""
    mark = f"--{boundary}".encode("ascii")
    head = f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\n\r\n'
    between = _CRLF + mark + _CRLF
    return b"".join(
        [head.encode("ascii"), mark, _CRLF, between.join(parts), _CRLF, mark, b"--", _CRLF]
    )
