"""Header lines of an outgoing email, written from plain values: names, addresses, text, ids.

No value is ever read as header syntax. A display name or a subject is text: the writer
decides which of its words can stand as they are and which become RFC 2047 encoded words
(non-ASCII ones, and any that a reader would take for an encoded word, such as
"=?utf-8?q?A=0D=0ABcc:_x?=": that one is encoded too, so it reads back as those characters).

The lines are folded as Python 3.11's `email` package folds them (`email.policy.SMTP`,
`_header_value_parser._refold_parse_tree`), so messages keep the bytes they had when the
standard library wrote them. `_Folder` follows that algorithm step for step over the token
tree its parser would have built from the same value; where that algorithm decoded its own
output again to merge encoded words, `_Folder` keeps the text it encoded instead. Where the
algorithm lost text (quotes of a long name, a space between two encoded words), this writer
departs from it; each departure says so where it is made.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from models.addresses import is_email_address

MAX_LINE: Final = 78  # characters per line before folding (RFC 5322 §2.1.1)
CRLF: Final = "\r\n"

# RFC 5322 specials: a display name with any of them is written as a quoted string.
_SPECIALS: Final = frozenset('()<>@,:;.\\"[]')
_SPACES: Final = " \t"
# "=?utf-8?q?" and "?=": the chrome around an encoded word's text.
_CHROME: Final = len("=?utf-8?q??=")
_Q_SAFE: Final = frozenset(b"-!*+/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_Q_BYTE: Final = tuple(
    "_" if byte == 0x20 else chr(byte) if byte in _Q_SAFE else f"={byte:02X}" for byte in range(256)
)


def clean_header_text(value: str) -> str:
    """A header value on one line: control and line-separator characters become spaces.

    >>> clean_header_text("Eve\\r\\nBcc: victim@example.org")
    'Eve Bcc: victim@example.org'
    """
    if value.isprintable():  # no control, format or line-separator character to replace
        return " ".join(value.split())
    kept = (" " if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} else c for c in value)
    return " ".join("".join(kept).split())


def checked_address(address: str) -> str:
    """The address itself, or ValueError: an address is refused, never repaired.

    >>> checked_address("c.soto@santiago.example.org")
    'c.soto@santiago.example.org'
    """
    if not is_email_address(address):  # the rule cohort files are validated with
        raise ValueError(f"not an email address: {address!r}")
    return address


def encoded_word(text: str) -> str:
    """`text` as one RFC 2047 encoded word in UTF-8: Q, unless base64 is 5 or more shorter.

    >>> encoded_word("Tomás"), encoded_word("—")
    ('=?utf-8?q?Tom=C3=A1s?=', '=?utf-8?b?4oCU?=')
    """
    data = text.encode("utf-8")
    quoted = "".join(_Q_BYTE[byte] for byte in data)
    if len(quoted) - (len(data) + 2) // 3 * 4 < 5:
        return f"=?utf-8?q?{quoted}?="
    return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="


@lru_cache(maxsize=8192)
def address_line(name: str, display_name: str, address: str) -> bytes:
    """`To: Name <address>` (or the bare address when the name is empty), folded."""
    spec = _addr_spec(checked_address(address))
    shown = clean_header_text(display_name)
    if not shown:
        return _header(name, spec)
    angle = _Token.of(_Token("<"), spec, _Token(">"))
    return _header(name, _Token.of(_display_name(shown), angle))


@lru_cache(maxsize=4096)
def text_line(name: str, text: str) -> bytes:
    """An unstructured header (Subject) carrying `text` on one logical line, folded."""
    shown = clean_header_text(text)
    if not shown:
        return f"{name}:{CRLF}".encode("ascii")
    return _header(name, _Token.of(*_words(shown, "vtext")))


def id_line(name: str, ids: Sequence[str]) -> bytes:
    """Message-ID, In-Reply-To or References: ids as they are, folded only between them."""
    line = f"{name}: {' '.join(ids)}"
    if len(line) <= MAX_LINE:  # as every id `make_message_id` makes fits
        return f"{line}{CRLF}".encode("ascii")
    return _header(name, _Token.of(*_spaced([_Token(i, encodable=False) for i in ids])))


@dataclass(frozen=True, eq=False)
class _Token:
    """A node of the tree `email._header_value_parser` would have parsed a value into."""

    text: str  # as written when not encoded
    parts: tuple[_Token, ...] = ()  # none: a terminal
    kind: str = "atext"  # "fws" (white space) and "ptext" (inside quotes) are folded apart
    encodable: bool = True  # may become an encoded word (the parser's `as_ew_allowed`)
    must_encode: bool = False  # non-ASCII, or it would read as an encoded word

    @classmethod
    def of(cls, *parts: _Token, text: str | None = None, encodable: bool | None = None) -> _Token:
        """A list of tokens: encodable and in need of encoding as its parts are."""
        return cls(
            "".join(p.text for p in parts) if text is None else text,
            parts,
            kind="list",
            encodable=all(p.encodable for p in parts) if encodable is None else encodable,
            must_encode=any(p.must_encode for p in parts),
        )

    def starts_with_space(self) -> bool:
        return self.parts[0].starts_with_space() if self.parts else self.kind == "fws"


def _word(text: str, kind: str) -> _Token:
    return _Token(text, kind=kind, must_encode=not text.isascii() or "=?" in text)


def _words(text: str, kind: str) -> list[_Token]:
    """Words and the single spaces between them (`text` is cleaned: single spaces only)."""
    return _spaced([_word(w, kind) for w in text.split(" ")])


def _spaced(tokens: list[_Token]) -> list[_Token]:
    """The tokens with a space between each two."""
    out = tokens[:1]
    for token in tokens[1:]:
        out += [_Token(" ", kind="fws"), token]
    return out


def _display_name(name: str) -> _Token:
    """The name as `email.headerregistry.Address` writes it, where that is safe to read back.

    Words without specials are atoms. A name with specials is a quoted string: in ASCII, one
    that only ever folds at its own spaces (the standard library dropped the quotes of a long
    one, and its commas then split the address), with "=?" written "=\\?" so that no reader
    takes it for an encoded word; otherwise, as the standard library folds it, every word
    with specials or that would read as an encoded word becomes one.
    """
    space = _Token(" ", kind="fws")
    if _SPECIALS.isdisjoint(name) and "=?" not in name:
        return _Token.of(*(_Token.of(_word(w, "atext"), _Token.of(space)) for w in name.split(" ")))
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if name.isascii():
        quoted = quoted.replace("=?", "=\\?")
        pieces = _spaced([_Token(w, encodable=False) for w in quoted.split(" ")])
        string = _Token.of(*pieces, text=quoted)
    else:
        string = _Token.of(*_words(name, "ptext"), text=quoted)
    return _Token.of(_Token.of(string, _Token.of(space)))


def _addr_spec(address: str) -> _Token:
    local, domain = address.split("@")
    return _Token.of(
        _Token.of(_dot_atom(local), encodable=False),
        _Token("@"),
        _Token.of(_dot_atom(domain), encodable=False),
        encodable=False,
    )


def _dot_atom(text: str) -> _Token:
    pieces = re.split(r"(\.)", text)
    return _Token.of(_Token.of(*(_Token(p) for p in pieces if p), encodable=True))


def _header(name: str, value: _Token) -> bytes:
    label = _Token.of(_Token(name), _Token(":"), encodable=False)
    folded = _Folder().fold([label, _Token.of(_Token(" ", kind="fws")), value])
    return folded.encode("ascii")


_END_OF_BLOCK: Final = _Token("")  # marks where parts that may not be encoded end


class _Folder:
    """`_refold_parse_tree` and `_fold_as_ew` of Python 3.11's `email`, over `_Token`s."""

    def __init__(self) -> None:
        self.lines = [""]
        # Per line: (start, end, text) of each encoded word written on it.
        self.encoded: list[list[tuple[int, int, str]]] = [[]]

    def fold(self, parts: list[_Token]) -> str:
        lines = self.lines
        last_ew: int | None = None
        blocked = 0
        want_encoding = False
        while parts:
            part = parts.pop(0)
            if part is _END_OF_BLOCK:
                blocked -= 1
                continue
            text = part.text
            if (part.kind == "ptext" and not _SPECIALS.isdisjoint(text)) or part.must_encode:
                want_encoding = True
            if want_encoding and not blocked and (part.encodable or part.parts):
                if not part.encodable:
                    want_encoding = False
                    last_ew = None
                    on_its_own = _Folder().fold(list(part.parts))[: -len(CRLF)]
                    if CRLF not in on_its_own:
                        if len(on_its_own) > MAX_LINE - len(lines[-1]):
                            self.new_line(self.steal_space())
                        lines[-1] += on_its_own
                        continue
                if part.parts:
                    parts = list(part.parts) + parts
                else:
                    last_ew = self.fold_as_encoded(text, last_ew)
                want_encoding = False
                continue
            if len(text) <= MAX_LINE - len(lines[-1]):
                lines[-1] += text
                continue
            if len(text) + 1 <= MAX_LINE:  # the whole part fits on a line of its own
                space = self.steal_space()
                if space or part.starts_with_space():
                    self.new_line(space + text)
                    last_ew = None
                    continue
            if part.parts:
                if not part.encodable:
                    blocked += 1
                    parts = [*part.parts, _END_OF_BLOCK, *parts]
                else:
                    parts = list(part.parts) + parts
                continue
            if part.encodable and not blocked:
                parts.insert(0, part)  # encoded, it can be split across lines
                want_encoding = True
                continue
            space = self.steal_space()
            if space or part.starts_with_space():
                self.new_line(space + text)
            else:
                lines[-1] += text
        return CRLF.join(lines) + CRLF

    def fold_as_encoded(self, text: str, last_ew: int | None) -> int:
        """Write `text` as encoded words, merged with the one the line ends in, if any.

        One departure from the standard library: readers drop white space between two
        encoded words (RFC 2047 §6.2), so a space of the text that would stand there, before
        the first word written here, goes inside that word instead (the standard library
        lost it: "prefeitura: aprovação" read back as "prefeitura:aprovação").
        """
        lines = self.lines
        merged = last_ew is not None and any(b == last_ew for b, _, _ in self.encoded[-1])
        if last_ew is not None:
            text = self.decoded_from(last_ew) + text
            lines[-1] = lines[-1][:last_ew]
            self.encoded[-1] = [w for w in self.encoded[-1] if w[1] <= last_ew]
        space_is_text = merged and self.follows_encoded_word()
        if text[:1] in _SPACES and text and not space_is_text:
            if len(lines[-1]) == MAX_LINE:
                self.new_line(self.steal_space())
            lines[-1] += text[0]
            text = text[1:]
        trailing = text[-1] if text and text[-1] in _SPACES else ""
        text = text[: len(text) - len(trailing)]
        start = len(lines[-1]) if last_ew is None else last_ew
        first = not merged  # a new word: what separates it from the one before is a space
        while text:
            room = MAX_LINE - len(lines[-1])
            if room - _CHROME <= 0:
                # The space the line ends in becomes the fold; kept there too, a reader
                # unfolding the header would see it twice ("Strategy  — Monday").
                self.new_line(self.steal_space() or " ")
                if not self.encoded[-1]:
                    # Nothing written yet: the word starts on this new line. Left at the old
                    # line's length, a later merge cut plain text there ("Santi" / "ago").
                    start = len(lines[-1])
                continue
            if first and text[0] not in _SPACES and self.follows_encoded_word():
                text = " " + text
            first = False
            chunk = text[: room - _CHROME]
            word = encoded_word(chunk)
            while len(word) > room:
                chunk = chunk[:-1]
                word = encoded_word(chunk)
            self.encoded[-1].append((len(lines[-1]), len(lines[-1]) + len(word), chunk))
            lines[-1] += word
            text = text[len(chunk) :]
            if text:
                self.new_line(" ")
                start = len(lines[-1])
        lines[-1] += trailing
        return start

    def follows_encoded_word(self) -> bool:
        """Whether the last thing written, white space aside, is an encoded word."""
        if line := self.lines[-1].rstrip(_SPACES):
            return any(end == len(line) for _, end, _ in self.encoded[-1])
        if len(self.lines) < 2:
            return False
        previous = len(self.lines[-2].rstrip(_SPACES))
        return any(end == previous for _, end, _ in self.encoded[-2])

    def decoded_from(self, start: int) -> str:
        """The text of the last line from `start`: encoded words as the text they encode.

        As a reader decodes it: white space between two encoded words is not text.
        """
        line = self.lines[-1]
        out: list[str] = []
        at = start
        after_word = False
        for begin, end, text in self.encoded[-1]:
            if begin < start:
                continue
            between = line[at:begin]
            if not (after_word and not between.strip(_SPACES)):
                out.append(between)
            out.append(text)
            at, after_word = end, True
        out.append(line[at:])
        return "".join(out)

    def steal_space(self) -> str:
        """The white space the last line ends in, taken off it to begin the next one."""
        line = self.lines[-1]
        if line and line[-1] in _SPACES:
            self.lines[-1] = line[:-1]
            return line[-1]
        return ""

    def new_line(self, text: str) -> None:
        self.lines.append(text)
        self.encoded.append([])
