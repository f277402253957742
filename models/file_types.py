"""Small value types used by both files: localized text, day references, wall times, durations."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, StringConstraints

from models.enums import Language
from models.timezones import UnknownTimeZoneError, load_zone

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"  # ids: lowercase letters, digits and dashes
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
"""An identifier that is safe in file names, URLs and iCalendar UIDs."""


# Bidirectional embeddings, overrides and isolates: they can make a name read as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# An RFC 2047 encoded word (=?charset?q?text?=): nobody types one in a cohort or program file,
# and a reader that decodes it would find whatever it hides (CR/LF, NUL, "Boss <ceo@…>").
# Broader than RFC 2047's grammar on purpose: lenient readers (Python's among them) also
# decode words with spaces inside, such as "=?utf-8?q?Boss <ceo@govex.example.org>?=".
_ENCODED_WORD = re.compile(r"=\?.*?\?=", re.DOTALL)
MAX_TITLE = 200  # characters: the longest title of a real program is under 80
MAX_DESCRIPTION = 4000  # characters: a real description is a paragraph or two


def forbidden_character(value: str, *, newlines: bool = False) -> str | None:
    """The first character that may not reach an email, a calendar or a page; None if none.

    >>> forbidden_character("Ciudad de México <CDMX>"), forbidden_character("a\\x1b[2J")
    (None, '\\x1b')
    """
    for ch in value:
        # Cc: C0 and C1 controls (CR, LF, NEL, ESC, BEL, NUL...); Zl, Zp: U+2028 and U+2029,
        # which some mail and calendar software also treat as line breaks.
        if ch == "\n" and newlines:
            continue
        if unicodedata.category(ch) in {"Cc", "Zl", "Zp"} or ch in _BIDI_CONTROLS:
            return ch
    return None


def has_encoded_word(value: str) -> bool:
    """Whether a mail reader could decode part of `value` as an RFC 2047 encoded word."""
    return _ENCODED_WORD.search(value) is not None


ENCODED_WORD_PROBLEM = "may not contain an RFC 2047 encoded word (=?…?=)"


def check_one_line(value: str) -> str:
    """Refuse line breaks, control characters and encoded words: this text may reach a header.

    >>> check_one_line("Ciudad de México <CDMX>")
    'Ciudad de México <CDMX>'
    """
    if (ch := forbidden_character(value)) is not None:
        raise ValueError(f"may not contain line breaks or control characters (U+{ord(ch):04X})")
    if has_encoded_word(value):
        raise ValueError(ENCODED_WORD_PROBLEM)
    return value


OneLine = Annotated[str, AfterValidator(check_one_line)]
"""Text that may end up in an email header or a calendar line: names, venues."""


def _check_localized(value: dict[Language, str], *, newlines: bool, limit: int) -> None:
    if Language.EN not in value:
        raise ValueError("needs at least an English (en) text, the fallback for every language")
    for lang, text in value.items():
        if not text.strip():
            raise ValueError(f"the {lang} text is empty")
        if len(text) > limit:
            raise ValueError(
                f"the {lang} text has {len(text):,} characters; the limit is {limit:,}"
            )
        if (ch := forbidden_character(text, newlines=newlines)) is not None:
            allowed = ": only newlines are allowed" if newlines else ""
            raise ValueError(
                f"the {lang} text contains a control character (U+{ord(ch):04X}){allowed}"
            )
        if has_encoded_word(text):
            raise ValueError(f"the {lang} text {ENCODED_WORD_PROBLEM}")


def _check_title(value: dict[Language, str]) -> dict[Language, str]:
    _check_localized(value, newlines=False, limit=MAX_TITLE)
    return value


def _check_description(value: dict[Language, str]) -> dict[Language, str]:
    _check_localized(value, newlines=True, limit=MAX_DESCRIPTION)
    return value


LocalizedText = Annotated[dict[Language, str], AfterValidator(_check_title)]
"""A title per language (subjects, SUMMARY, headings): one line, at most MAX_TITLE characters."""
LocalizedDescription = Annotated[dict[Language, str], AfterValidator(_check_description)]
"""A description per language: newlines allowed, at most MAX_DESCRIPTION characters."""


def localized(text: dict[Language, str], language: Language) -> str:
    """The text in `language`, falling back to English."""
    return text.get(language) or text[Language.EN]


def _check_zone(name: str) -> str:
    """An IANA zone named for a place (America/New_York), or UTC.

    Abbreviations and fixed offsets (EST, EST5EDT, Etc/GMT+5) exist in the database for old
    software; EST never changes its clock, so a city given it would be an hour off all summer.
    """
    try:
        load_zone(name)
    except UnknownTimeZoneError:
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as America/Santiago)"
        ) from None
    if name != "UTC" and ("/" not in name or (name.startswith("Etc/") and name != "Etc/UTC")):
        raise ValueError(
            f"{name!r} is a legacy zone name, not a place: use an IANA name such as "
            "America/New_York (it follows the clock changes)"
        )
    return name


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]

_WALL_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _parse_wall_time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 10:00 as the sexagesimal integer 600.
        value = f"{value // 60:02d}:{value % 60:02d}"
    if not isinstance(value, str) or not (match := _WALL_TIME.match(value)):
        raise ValueError(f'not a time of day {value!r} (write it as "HH:MM", e.g. "10:00")')
    return dt.time(int(match.group(1)), int(match.group(2)))


WallTime = Annotated[
    dt.time, BeforeValidator(_parse_wall_time), PlainSerializer(lambda t: t.strftime("%H:%M"))
]


_DURATION = re.compile(
    r"^P(?!$)(?:(\d{1,6})W)?(?:(\d{1,6})D)?(?:T(?=\d)(?:(\d{1,6})H)?(?:(\d{1,6})M)?)?$"
)
MAX_DURATION = dt.timedelta(weeks=52)  # the longest lead the program needs is P26W


def _parse_duration(value: Any) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    if not isinstance(value, str) or not (match := _DURATION.match(value)):
        raise ValueError(
            f"not a duration {value!r} (ISO 8601 in weeks, days, hours, minutes: P2W, P1D, PT90M)"
        )
    weeks, days, hours, minutes = (int(part or 0) for part in match.groups())
    duration = dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    if duration > MAX_DURATION:
        raise ValueError(f"{value} is longer than the limit of P52W")
    return duration


def format_duration(value: dt.timedelta) -> str:
    """ISO 8601 form of a duration, e.g. P1D, PT90M (inverse of the parser)."""
    days, seconds = value.days, value.seconds
    text = "P" + (f"{days}D" if days else "")
    if seconds:
        hours, minutes = divmod(seconds // 60, 60)
        text += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text if text != "P" else "PT0M"


def _positive(value: dt.timedelta) -> dt.timedelta:
    if value <= dt.timedelta(0):
        raise ValueError("must be longer than zero")
    return value


Duration = Annotated[
    dt.timedelta,
    BeforeValidator(_parse_duration),
    AfterValidator(_positive),
    PlainSerializer(format_duration),
]


@dataclass(frozen=True)
class DayRef:
    """A calendar day given relative to the convening (`convening+P3W`) or by date (`2024-12-13`)."""

    offset_days: int | None = None
    date: dt.date | None = None

    def resolve(self, anchor: dt.date) -> dt.date:
        if self.date is not None:
            return self.date
        assert self.offset_days is not None
        return anchor + dt.timedelta(days=self.offset_days)

    def __str__(self) -> str:
        if self.date is not None:
            return self.date.isoformat()
        assert self.offset_days is not None
        sign = "+" if self.offset_days >= 0 else "-"
        return f"convening{sign}P{abs(self.offset_days)}D"


_DAY_REF = re.compile(r"^convening(?:([+-])P(?:(\d{1,6})W)?(?:(\d{1,6})D)?)?$")
# Far enough for any program, near enough that adding offsets and durations never overflows.
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(2199, 12, 31)
MAX_OFFSET_DAYS = 3660  # about ten years either side of the convening


def check_day(value: dt.date) -> dt.date:
    """A calendar day the engine can count from: years 1970 to 2199."""
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"{value} is not between {FIRST_DAY} and {LAST_DAY}")
    return value


CalendarDay = Annotated[dt.date, AfterValidator(check_day)]


def _parse_day_ref(value: Any) -> DayRef:
    if isinstance(value, DayRef):
        return value
    if isinstance(value, dt.datetime):
        raise ValueError("give a day, not a date and time")
    if isinstance(value, dt.date):
        return DayRef(date=check_day(value))
    if isinstance(value, str):
        match = _DAY_REF.match(value.strip())
        if match and (match.group(1) is None or match.group(2) or match.group(3)):
            weeks, days = int(match.group(2) or 0), int(match.group(3) or 0)
            offset = 7 * weeks + days
            if offset > MAX_OFFSET_DAYS:
                raise ValueError(f"{value} is more than ten years (P522W) from the convening")
            return DayRef(offset_days=-offset if match.group(1) == "-" else offset)
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return DayRef(date=check_day(day))
    raise ValueError(
        f"not a day {value!r} (write convening+P3W, convening-P14D, or a date such as 2024-12-13)"
    )


DayReference = Annotated[DayRef, BeforeValidator(_parse_day_ref), PlainSerializer(str)]
