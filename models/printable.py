"""Text from outside made safe to print or log: control characters shown as escapes, on one line."""

from __future__ import annotations

# Bidirectional marks, embeddings, overrides and isolates: they can make text read as something else.
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_of(code: int) -> str:
    char = chr(code)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


# C0 controls, DEL, C1 controls (NEL, CSI...), the Unicode line and paragraph separators, bidi.
_ESCAPES = {
    code: _escape_of(code)
    for code in [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *map(ord, _BIDI_CONTROLS)]
}


def printable(text: str) -> str:
    """`text` with every control character written as an escape, so it stays on one line and
    cannot move a terminal's cursor, change its colours or reverse the order of what follows.

    Backslashes are left alone: escaping twice changes nothing.

    >>> printable("notes\\nBcc: x\\x1b[31m\\u202eevil\\x85")
    'notes\\\\nBcc: x\\\\x1b[31m\\\\u202eevil\\\\x85'
    >>> printable("Ciudad de México, São Paulo, 東京 <ok>")
    'Ciudad de México, São Paulo, 東京 <ok>'
    """
    # Every escaped character is one Python does not call printable: most text skips the copy.
    if text.isprintable():
        return text
    return text.translate(_ESCAPES)
