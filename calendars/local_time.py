"""Instants written in the recipient's own time zone and language, always naming the zone."""

from __future__ import annotations

import datetime as dt
from typing import Final

from models.enums import Language
from models.timezones import load_zone

MINUS_SIGN: Final = "\u2212"  # typographic minus: "UTC−3", not a hyphen

# Our own tables: the OS locale may be missing or differ between machines. Monday first.
_WEEKDAYS: Final[dict[Language, tuple[str, ...]]] = {
    Language.EN: ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    Language.ES: ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    Language.PT: (
        "segunda-feira",
        "terça-feira",
        "quarta-feira",
        "quinta-feira",
        "sexta-feira",
        "sábado",
        "domingo",
    ),
}
_MONTHS: Final[dict[Language, tuple[str, ...]]] = {
    Language.EN: (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    Language.ES: (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
    Language.PT: (
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ),
}


def _everywhere(name: str) -> dict[Language, str]:
    return dict.fromkeys(Language, name)


# IANA identifiers are ASCII and English. Only the zones of the Americas whose usual name differs
# from the identifier's last component (accents, or a translated name) are listed; any other zone
# shows that component with underscores as spaces ("Buenos_Aires" -> "Buenos Aires").
_CITY_NAMES: Final[dict[str, dict[Language, str]]] = {
    "America/Araguaina": _everywhere("Araguaína"),
    "America/Argentina/Cordoba": _everywhere("Córdoba"),
    "America/Argentina/Tucuman": _everywhere("Tucumán"),
    "America/Asuncion": _everywhere("Asunción"),
    "America/Bahia_Banderas": _everywhere("Bahía de Banderas"),
    "America/Belem": _everywhere("Belém"),
    "America/Bogota": _everywhere("Bogotá"),
    "America/Cancun": _everywhere("Cancún"),
    "America/Ciudad_Juarez": _everywhere("Ciudad Juárez"),
    "America/Cuiaba": _everywhere("Cuiabá"),
    "America/Maceio": _everywhere("Maceió"),
    "America/Mazatlan": _everywhere("Mazatlán"),
    "America/Merida": _everywhere("Mérida"),
    "America/Noronha": _everywhere("Fernando de Noronha"),
    "America/Santarem": _everywhere("Santarém"),
    "America/Sao_Paulo": _everywhere("São Paulo"),
    "America/St_Johns": _everywhere("St. John's"),
    "America/Havana": {Language.EN: "Havana", Language.ES: "La Habana", Language.PT: "Havana"},
    "America/Los_Angeles": {
        Language.EN: "Los Angeles",
        Language.ES: "Los Ángeles",
        Language.PT: "Los Angeles",
    },
    "America/Mexico_City": {
        Language.EN: "Mexico City",
        Language.ES: "Ciudad de México",
        Language.PT: "Cidade do México",
    },
    "America/New_York": {
        Language.EN: "New York",
        Language.ES: "Nueva York",
        Language.PT: "Nova York",
    },
    "America/Panama": {Language.EN: "Panama", Language.ES: "Panamá", Language.PT: "Panamá"},
    "America/Puerto_Rico": {
        Language.EN: "Puerto Rico",
        Language.ES: "Puerto Rico",
        Language.PT: "Porto Rico",
    },
}

# Portuguese takes the article with some place names: "horário da Cidade do México", "do Recife".
_PT_PREPOSITION: Final[dict[str, str]] = {
    "America/Bahia": "da",
    "America/Costa_Rica": "da",
    "America/Guatemala": "da",
    "America/Mexico_City": "da",
    "America/Panama": "do",
    "America/Puerto_Rico": "de",
    "America/Recife": "do",
}


def city_name(zone: str, language: Language | str) -> str | None:
    """The place a zone is named after, as people write it; None for zones like UTC or Etc/GMT+3.

    >>> city_name("America/Argentina/Buenos_Aires", "es")
    'Buenos Aires'
    >>> city_name("America/Sao_Paulo", "en")
    'São Paulo'
    >>> city_name("America/Mexico_City", "pt")
    'Cidade do México'
    >>> city_name("Etc/UTC", "en") is None
    True
    """
    if zone in _CITY_NAMES:
        return _CITY_NAMES[zone][Language(language)]
    if "/" not in zone or zone.startswith("Etc/"):
        return None
    return zone.rsplit("/", 1)[1].replace("_", " ")


def format_utc_offset(offset: dt.timedelta) -> str:
    """An offset as people read it: hours, and minutes only when there are some.

    >>> format_utc_offset(dt.timedelta(hours=-3))
    'UTC−3'
    >>> format_utc_offset(dt.timedelta(hours=-3, minutes=-30))
    'UTC−3:30'
    >>> format_utc_offset(dt.timedelta(hours=5, minutes=45))
    'UTC+5:45'
    >>> format_utc_offset(dt.timedelta(0))
    'UTC+0'
    """
    minutes = int(offset.total_seconds()) // 60
    sign = MINUS_SIGN if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}:{rest:02d}" if rest else f"UTC{sign}{hours}"


def format_zone_label(instant: dt.datetime, zone: str, language: Language | str) -> str:
    """The zone as shown after a time, with its offset at `instant`: 'hora de Santiago, UTC−3'.

    >>> format_zone_label(dt.datetime(2024, 9, 10, 13, tzinfo=dt.UTC), "America/Sao_Paulo", "pt")
    'horário de São Paulo, UTC−3'
    >>> format_zone_label(dt.datetime(2024, 9, 10, 13, tzinfo=dt.UTC), "UTC", "es")
    'UTC'
    """
    lang = Language(language)
    offset = _local(instant, zone).utcoffset() or dt.timedelta(0)
    utc = format_utc_offset(offset)
    city = city_name(zone, lang)
    if city is None:
        return "UTC" if not offset else utc
    if lang is Language.ES:
        return f"hora de {city}, {utc}"
    if lang is Language.PT:
        return f"horário {_PT_PREPOSITION.get(zone, 'de')} {city}, {utc}"
    return f"{city} time, {utc}"


def format_local_date(instant: dt.datetime, zone: str, language: Language | str) -> str:
    """The local day of `instant` in `zone`, without the time or the zone.

    >>> at = dt.datetime(2024, 9, 10, 13, tzinfo=dt.UTC)
    >>> format_local_date(at, "America/Santiago", "es")
    'martes 10 de septiembre de 2024'
    >>> format_local_date(at, "America/Sao_Paulo", "pt")
    'terça-feira, 10 de setembro de 2024'
    >>> format_local_date(dt.datetime(2024, 11, 2, 3, tzinfo=dt.UTC), "America/New_York", "en")
    'Friday, 1 November 2024'
    """
    return _date(_local(instant, zone).date(), Language(language))


def format_local_time(instant: dt.datetime, zone: str, language: Language | str) -> str:
    """The local wall-clock time (24-hour) with its zone: '10:00 (hora de Santiago, UTC−3)'."""
    return f"{_local(instant, zone):%H:%M} ({format_zone_label(instant, zone, language)})"


def format_local_datetime(instant: dt.datetime, zone: str, language: Language | str) -> str:
    """Day, time and zone of `instant` as seen in `zone`.

    >>> at = dt.datetime(2024, 9, 10, 13, tzinfo=dt.UTC)
    >>> format_local_datetime(at, "America/Santiago", "es")
    'martes 10 de septiembre de 2024, 10:00 (hora de Santiago, UTC−3)'
    >>> format_local_datetime(at, "America/New_York", "en")
    'Tuesday, 10 September 2024, 09:00 (New York time, UTC−4)'
    """
    return f"{format_local_date(instant, zone, language)}, {format_local_time(instant, zone, language)}"


def format_local_span(
    start: dt.datetime, end: dt.datetime, zone: str, language: Language | str
) -> str:
    """A session's start and end, naming the zone once when it can.

    >>> start = dt.datetime(2024, 9, 10, 13, tzinfo=dt.UTC)
    >>> format_local_span(start, start + dt.timedelta(hours=1), "America/Santiago", "es")
    'martes 10 de septiembre de 2024, 10:00–11:00 (hora de Santiago, UTC−3)'
    >>> format_local_span(start, start + dt.timedelta(days=2), "America/Bogota", "en")
    'Tuesday, 10 September 2024, 08:00 – Thursday, 12 September 2024, 08:00 (Bogotá time, UTC−5)'
    """
    if end < start:
        raise ValueError(
            f"a span cannot end ({end.isoformat()}) before it starts ({start.isoformat()})"
        )
    lang = Language(language)
    local_start, local_end = _local(start, zone), _local(end, zone)
    if local_start.utcoffset() != local_end.utcoffset():
        # A clock change inside the span: each end keeps its own offset.
        starts, ends = (
            format_local_datetime(start, zone, lang),
            format_local_datetime(end, zone, lang),
        )
        return f"{starts} – {ends}"
    label = format_zone_label(start, zone, lang)
    if local_start.date() == local_end.date():
        return f"{_date(local_start.date(), lang)}, {local_start:%H:%M}–{local_end:%H:%M} ({label})"
    return (
        f"{_date(local_start.date(), lang)}, {local_start:%H:%M} – "
        f"{_date(local_end.date(), lang)}, {local_end:%H:%M} ({label})"
    )


def same_wall_clock(zone: str, other: str, *instants: dt.datetime) -> bool:
    """Whether the two zones show the same local time at each of `instants`.

    >>> june = dt.datetime(2024, 6, 26, 22, tzinfo=dt.UTC)
    >>> same_wall_clock("America/Santiago", "America/New_York", june)  # both UTC−4 in June
    True
    >>> same_wall_clock("America/Mexico_City", "America/New_York", june)
    False
    """
    return all(_local(i, zone).utcoffset() == _local(i, other).utcoffset() for i in instants)


def _local(instant: dt.datetime, zone: str) -> dt.datetime:
    # A naive datetime would be read in the host's zone: refuse it rather than guess.
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant.isoformat()} has no time zone; pass an aware UTC instant")
    return instant.astimezone(load_zone(zone))


def _date(day: dt.date, language: Language) -> str:
    weekday = _WEEKDAYS[language][day.weekday()]
    month = _MONTHS[language][day.month - 1]
    if language is Language.ES:
        return f"{weekday} {day.day} de {month} de {day.year}"
    if language is Language.PT:
        number = "1º" if day.day == 1 else str(day.day)  # Brazilian usage: "1º de outubro"
        return f"{weekday}, {number} de {month} de {day.year}"
    return f"{weekday}, {day.day} {month} {day.year}"
