"""Instants written in each recipient's zone and language, across the 2024 clock changes."""

from __future__ import annotations

import datetime as dt
import doctest

import pytest

from calendars import local_time
from calendars.local_time import (
    city_name,
    format_local_date,
    format_local_datetime,
    format_local_span,
    format_local_time,
    format_utc_offset,
    format_zone_label,
)
from models.timezones import UnknownTimeZoneError

UTC = dt.UTC
SANTIAGO = ("America/Santiago", "es")
SAO_PAULO = ("America/Sao_Paulo", "pt")
NEW_YORK = ("America/New_York", "en")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_doctests() -> None:
    result = doctest.testmod(local_time)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        (SANTIAGO, "martes 10 de septiembre de 2024, 10:00 (hora de Santiago, UTC−3)"),
        (SAO_PAULO, "terça-feira, 10 de setembro de 2024, 10:00 (horário de São Paulo, UTC−3)"),
        (NEW_YORK, "Tuesday, 10 September 2024, 09:00 (New York time, UTC−4)"),
    ],
)
def test_one_instant_three_recipients(recipient: tuple[str, str], expected: str) -> None:
    zone, language = recipient
    assert format_local_datetime(at(2024, 9, 10, 13), zone, language) == expected


# Chile moved from UTC−4 to UTC−3 at local midnight on Sunday 8 September 2024: before, a
# 13:00 UTC session is at the same wall time in Santiago and New York; after, in Santiago and
# São Paulo. Brazil did not change.
@pytest.mark.parametrize(
    ("instant", "recipient", "expected"),
    [
        (
            at(2024, 9, 6, 13),
            SANTIAGO,
            "viernes 6 de septiembre de 2024, 09:00 (hora de Santiago, UTC−4)",
        ),
        (
            at(2024, 9, 6, 13),
            SAO_PAULO,
            "sexta-feira, 6 de setembro de 2024, 10:00 (horário de São Paulo, UTC−3)",
        ),
        (at(2024, 9, 6, 13), NEW_YORK, "Friday, 6 September 2024, 09:00 (New York time, UTC−4)"),
        (
            at(2024, 9, 9, 13),
            SANTIAGO,
            "lunes 9 de septiembre de 2024, 10:00 (hora de Santiago, UTC−3)",
        ),
        (
            at(2024, 9, 9, 13),
            SAO_PAULO,
            "segunda-feira, 9 de setembro de 2024, 10:00 (horário de São Paulo, UTC−3)",
        ),
        (at(2024, 9, 9, 13), NEW_YORK, "Monday, 9 September 2024, 09:00 (New York time, UTC−4)"),
        # The last minute before and the first after Chile's change (00:00 local did not exist).
        (
            at(2024, 9, 8, 3, 59),
            SANTIAGO,
            "sábado 7 de septiembre de 2024, 23:59 (hora de Santiago, UTC−4)",
        ),
        (
            at(2024, 9, 8, 4, 0),
            SANTIAGO,
            "domingo 8 de septiembre de 2024, 01:00 (hora de Santiago, UTC−3)",
        ),
    ],
)
def test_across_chile_clock_change(
    instant: dt.datetime, recipient: tuple[str, str], expected: str
) -> None:
    zone, language = recipient
    assert format_local_datetime(instant, zone, language) == expected


# The US fell back from UTC−4 to UTC−5 at 02:00 local on Sunday 3 November 2024; Chile and
# Brazil stay at UTC−3, so New York moves one hour further from them.
@pytest.mark.parametrize(
    ("instant", "recipient", "expected"),
    [
        (at(2024, 11, 1, 14), NEW_YORK, "Friday, 1 November 2024, 10:00 (New York time, UTC−4)"),
        (
            at(2024, 11, 1, 14),
            SANTIAGO,
            "viernes 1 de noviembre de 2024, 11:00 (hora de Santiago, UTC−3)",
        ),
        (at(2024, 11, 5, 14), NEW_YORK, "Tuesday, 5 November 2024, 09:00 (New York time, UTC−5)"),
        (
            at(2024, 11, 5, 14),
            SANTIAGO,
            "martes 5 de noviembre de 2024, 11:00 (hora de Santiago, UTC−3)",
        ),
        (
            at(2024, 11, 5, 14),
            SAO_PAULO,
            "terça-feira, 5 de novembro de 2024, 11:00 (horário de São Paulo, UTC−3)",
        ),
        # 01:30 happened twice in New York: the offset tells the two apart.
        (at(2024, 11, 3, 5, 30), NEW_YORK, "Sunday, 3 November 2024, 01:30 (New York time, UTC−4)"),
        (at(2024, 11, 3, 6, 30), NEW_YORK, "Sunday, 3 November 2024, 01:30 (New York time, UTC−5)"),
    ],
)
def test_across_us_clock_change(
    instant: dt.datetime, recipient: tuple[str, str], expected: str
) -> None:
    zone, language = recipient
    assert format_local_datetime(instant, zone, language) == expected


def test_the_local_day_depends_on_the_zone() -> None:
    instant = at(2024, 9, 10, 3, 30)
    assert format_local_date(instant, *SANTIAGO) == "martes 10 de septiembre de 2024"
    assert format_local_date(instant, *SAO_PAULO) == "terça-feira, 10 de setembro de 2024"
    assert format_local_date(instant, *NEW_YORK) == "Monday, 9 September 2024"


def test_time_alone_keeps_the_zone() -> None:
    instant = at(2024, 9, 10, 13)
    assert format_local_time(instant, *SANTIAGO) == "10:00 (hora de Santiago, UTC−3)"
    assert format_local_time(instant, *NEW_YORK) == "09:00 (New York time, UTC−4)"


def test_offsets_use_a_real_minus_sign_and_minutes_when_needed() -> None:
    winter = at(2024, 12, 10, 13)
    assert (
        format_local_time(winter, "America/St_Johns", "en") == "09:30 (St. John's time, UTC−3:30)"
    )
    assert format_local_time(winter, "Asia/Kathmandu", "en") == "18:45 (Kathmandu time, UTC+5:45)"
    label = format_zone_label(winter, "America/Bogota", "es")
    assert label == "hora de Bogotá, UTC−5"
    assert "\u2212" in label and "-" not in label
    assert format_utc_offset(dt.timedelta(minutes=-30)) == "UTC−0:30"


def test_mexico_keeps_one_offset_all_year_and_names_the_city_per_language() -> None:
    for instant in (at(2024, 7, 1, 16), at(2024, 12, 2, 16)):
        assert format_local_time(instant, "America/Mexico_City", "es") == (
            "10:00 (hora de Ciudad de México, UTC−6)"
        )
        assert format_local_time(instant, "America/Mexico_City", "pt") == (
            "10:00 (horário da Cidade do México, UTC−6)"
        )
        assert format_local_time(instant, "America/Mexico_City", "en") == (
            "10:00 (Mexico City time, UTC−6)"
        )


def test_asuncion_follows_the_pinned_tzdata() -> None:
    # UTC−4 until 6 October 2024, then UTC−3 for good (tzdata 2025a+; older rules said UTC−4 in
    # the southern winter of 2025).
    assert format_zone_label(at(2024, 9, 10, 13), "America/Asuncion", "es") == (
        "hora de Asunción, UTC−4"
    )
    assert format_zone_label(at(2024, 10, 10, 13), "America/Asuncion", "es") == (
        "hora de Asunción, UTC−3"
    )
    assert format_zone_label(at(2025, 7, 1, 13), "America/Asuncion", "es") == (
        "hora de Asunción, UTC−3"
    )


@pytest.mark.parametrize(
    ("zone", "language", "expected"),
    [
        ("America/Argentina/Buenos_Aires", "es", "Buenos Aires"),
        ("America/Sao_Paulo", "es", "São Paulo"),
        ("America/Bogota", "en", "Bogotá"),
        ("America/New_York", "es", "Nueva York"),
        ("America/New_York", "pt", "Nova York"),
        ("America/Los_Angeles", "en", "Los Angeles"),
        ("America/Port_of_Spain", "en", "Port of Spain"),
        ("UTC", "en", None),
        ("Etc/GMT+3", "es", None),
    ],
)
def test_city_names(zone: str, language: str, expected: str | None) -> None:
    assert city_name(zone, language) == expected


def test_zones_without_a_city_show_the_offset_only() -> None:
    instant = at(2024, 9, 10, 13)
    assert format_local_datetime(instant, "UTC", "en") == "Tuesday, 10 September 2024, 13:00 (UTC)"
    assert format_local_time(instant, "Etc/GMT+3", "pt") == "10:00 (UTC−3)"


def test_portuguese_writes_the_first_of_the_month_as_an_ordinal() -> None:
    assert (
        format_local_date(at(2024, 10, 1, 15), *SAO_PAULO) == "terça-feira, 1º de outubro de 2024"
    )
    assert format_local_date(at(2024, 10, 1, 15), *SANTIAGO) == "martes 1 de octubre de 2024"


def test_span_on_one_day_names_the_zone_once() -> None:
    start = at(2024, 9, 10, 13)
    assert format_local_span(start, start + dt.timedelta(minutes=45), *SAO_PAULO) == (
        "terça-feira, 10 de setembro de 2024, 10:00–10:45 (horário de São Paulo, UTC−3)"
    )


def test_span_over_several_days() -> None:
    # The mayors' convening: Wednesday 26 June 2024 18:00 to Friday 28 June 15:00 in Baltimore.
    span = format_local_span(at(2024, 6, 26, 22), at(2024, 6, 28, 19), *SANTIAGO)
    assert span == (
        "miércoles 26 de junio de 2024, 18:00 – viernes 28 de junio de 2024, 15:00 "
        "(hora de Santiago, UTC−4)"
    )


def test_span_across_a_clock_change_labels_each_end() -> None:
    span = format_local_span(at(2024, 11, 2, 14), at(2024, 11, 4, 14), *NEW_YORK)
    assert span == (
        "Saturday, 2 November 2024, 10:00 (New York time, UTC−4) – "
        "Monday, 4 November 2024, 09:00 (New York time, UTC−5)"
    )


def test_span_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        format_local_span(at(2024, 9, 10, 14), at(2024, 9, 10, 13), *NEW_YORK)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        format_local_datetime(dt.datetime(2024, 9, 10, 13), *SANTIAGO)


def test_unknown_language_and_zone_are_errors() -> None:
    with pytest.raises(ValueError, match="fr"):
        format_local_datetime(at(2024, 9, 10, 13), "America/Santiago", "fr")
    with pytest.raises(UnknownTimeZoneError):
        format_local_datetime(at(2024, 9, 10, 13), "America/Atlantis", "en")
