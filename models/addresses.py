"""The one definition of an email address the engine accepts (cohort files, headers) and of a loopback host."""

from __future__ import annotations

import ipaddress
import re
from typing import Final

# Deliberately plain (RFC 5321 dot-atom, ASCII): atoms of letters, digits and
# !#$%&'*+/=?^_`{|}~- joined by single dots (no leading, trailing or doubled dot, which
# mail servers refuse), one @, and a domain of at least two dotted labels. No spaces, quotes,
# comments, angle brackets or line breaks: an address can never smuggle a header or a second
# recipient into an email.
_ATOM: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS_PATTERN: Final = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")
MAX_ADDRESS: Final = 254  # RFC 5321 §4.5.3.1.3 (a path of 256 with its angle brackets)
MAX_LOCAL_PART: Final = 64  # RFC 5321 §4.5.3.1.1


def is_email_address(value: str) -> bool:
    """Whether `value` is an address we send to.

    >>> is_email_address("c.soto@santiago.example.org"), is_email_address("c..soto@x.example.org")
    (True, False)
    """
    if len(value) > MAX_ADDRESS or not ADDRESS_PATTERN.fullmatch(value):
        return False
    return len(value.partition("@")[0]) <= MAX_LOCAL_PART


def check_email_address(value: str) -> str:
    """The address, or ValueError: an address is refused, never repaired."""
    if not is_email_address(value):
        raise ValueError("not an email address")
    return value


def is_loopback_host(host: str) -> bool:
    """Whether `host` names this machine: 127.0.0.0/8, ::1 or localhost (never a DNS lookup).

    >>> is_loopback_host("127.0.0.1"), is_loopback_host("::1"), is_loopback_host("mail.example.org")
    (True, True, False)
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def plaintext_auth_refusal(
    host: str, *, has_credentials: bool, tls: bool, allow_plaintext: bool
) -> str | None:
    """Why a login to `host` must not be sent, or None: a password never crosses a network
    in clear; an operator may allow it only to a relay on this machine."""
    if not has_credentials or tls or (allow_plaintext and is_loopback_host(host)):
        return None
    if allow_plaintext:
        return (
            f"ACCEL_SMTP_ALLOW_PLAINTEXT_AUTH is only honoured for a relay on this machine "
            f"(127.0.0.0/8, ::1, localhost), not {host!r}: turn on ACCEL_SMTP_STARTTLS or "
            "ACCEL_SMTP_USE_TLS"
        )
    return (
        "ACCEL_SMTP_USERNAME and ACCEL_SMTP_PASSWORD are set without ACCEL_SMTP_STARTTLS or "
        "ACCEL_SMTP_USE_TLS: the password would cross the network in clear. Turn on TLS, or "
        "for a relay on this machine set ACCEL_SMTP_ALLOW_PLAINTEXT_AUTH=true"
    )
