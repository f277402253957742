"""The one definition of an email address the engine accepts: in cohort files and in headers."""

from __future__ import annotations

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
