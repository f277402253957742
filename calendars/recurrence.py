"""Occurrence days of an RFC 5545 rule, computed on local calendar days so wall times survive DST."""

from __future__ import annotations

import datetime as dt

from dateutil import rrule

from models.enums import Weekday

MAX_OCCURRENCES = 60
_ALLOWED_FREQ = {"DAILY", "WEEKLY", "MONTHLY"}


class RecurrenceRuleError(ValueError):
    """A rule the engine cannot or will not expand."""


def _parts(rule: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for piece in rule.upper().removeprefix("RRULE:").split(";"):
        name, sep, value = piece.partition("=")
        if not sep or not name or not value:
            raise RecurrenceRuleError(f"malformed rule part {piece!r} (expected NAME=VALUE)")
        if name in parts:
            raise RecurrenceRuleError(f"rule part {name} given twice")
        parts[name] = value
    return parts


def check_rule(rule: str) -> None:
    """Raise `RecurrenceRuleError` unless `rule` is a finite daily, weekly or monthly RRULE."""
    parts = _parts(rule)
    if parts.get("FREQ") not in _ALLOWED_FREQ:
        raise RecurrenceRuleError("FREQ must be DAILY, WEEKLY or MONTHLY")
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise RecurrenceRuleError("the rule must end: give COUNT or UNTIL")
    if "DTSTART" in parts:
        raise RecurrenceRuleError("give the start with `starts`, not DTSTART in the rule")
    if parts.get("FREQ") == "MONTHLY" and "BYDAY" not in parts and "BYMONTHDAY" not in parts:
        raise RecurrenceRuleError("a monthly rule needs BYDAY (e.g. 2TU) or BYMONTHDAY")
    try:
        days = occurrence_days(rule, dt.date(2024, 1, 1))
    except (ValueError, TypeError) as error:
        raise RecurrenceRuleError(f"not a valid RRULE: {error}") from None
    if not days:
        raise RecurrenceRuleError("the rule yields no occurrence")


def has_weekday(rule: str) -> bool:
    return "BYDAY" in _parts(rule)


def occurrence_days(rule: str, start: dt.date, weekday: Weekday | None = None) -> list[dt.date]:
    """Days on which `rule` occurs from `start` on; `weekday` fills in a rule without BYDAY."""
    parts = _parts(rule)
    if weekday is not None and "BYDAY" not in parts:
        rule = f"{rule};BYDAY={weekday.value}"
    dtstart = dt.datetime(start.year, start.month, start.day)  # noqa: DTZ001 - local calendar days
    try:
        days = rrule.rrulestr(rule.removeprefix("RRULE:"), dtstart=dtstart, cache=False)
    except (ValueError, TypeError) as error:
        raise RecurrenceRuleError(f"not a valid RRULE: {error}") from None
    out: list[dt.date] = []
    for occurrence in days:
        if len(out) >= MAX_OCCURRENCES:
            raise RecurrenceRuleError(f"the rule yields more than {MAX_OCCURRENCES} occurrences")
        out.append(occurrence.date())
    return out
