"""Occurrence days of an RFC 5545 rule, computed on local calendar days so wall times survive DST.

Only the subset a program needs is accepted: FREQ=DAILY, WEEKLY or MONTHLY with INTERVAL,
COUNT or UNTIL, BYDAY, BYMONTHDAY (monthly) and WKST; times of day come from the program's
`times`. The days are computed here period by period and never looked for beyond `HORIZON`: a
general expander (dateutil's) searches up to the year 9999 for a rule that can never occur, such
as `FREQ=DAILY;INTERVAL=7;BYDAY=MO` from a Tuesday, which takes seconds per rule.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from models.enums import Weekday

MAX_OCCURRENCES = 60
HORIZON = dt.timedelta(days=3 * 366)  # a program lasts months: no rule needs to reach further
_ALLOWED_FREQ = {"DAILY", "WEEKLY", "MONTHLY"}
_ALLOWED_PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "WKST")
_WEEKDAYS = {day.value: day.number for day in Weekday}
_BYDAY = re.compile(r"^([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_UNTIL = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T\d{6}Z?)?$")
_NUMBER = re.compile(r"^[+-]?\d{1,6}$")


class RecurrenceRuleError(ValueError):
    """A rule the engine cannot or will not expand."""


@dataclass(frozen=True)
class _Rule:
    freq: str
    interval: int
    count: int | None
    until: dt.date | None
    weekdays: tuple[tuple[int | None, int], ...]  # (ordinal or None, Monday=0)
    monthdays: tuple[int, ...]
    week_start: int


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


def _number(name: str, value: str, low: int, high: int) -> int:
    if not _NUMBER.fullmatch(value) or not low <= int(value) <= high:
        raise RecurrenceRuleError(f"{name}={value} is not a whole number from {low} to {high}")
    return int(value)


def _parse(rule: str) -> _Rule:
    parts = _parts(rule)
    if "DTSTART" in parts:
        raise RecurrenceRuleError("give the start with `starts`, not DTSTART in the rule")
    for name in parts:
        if name not in _ALLOWED_PARTS:
            raise RecurrenceRuleError(
                f"{name} is not supported here (use {', '.join(_ALLOWED_PARTS)}; "
                "times of day come from `times`)"
            )
    freq = parts.get("FREQ")
    if freq not in _ALLOWED_FREQ:
        raise RecurrenceRuleError("FREQ must be DAILY, WEEKLY or MONTHLY")
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise RecurrenceRuleError("the rule must end: give COUNT or UNTIL")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceRuleError("give COUNT or UNTIL, not both")
    if freq == "MONTHLY" and "BYDAY" not in parts and "BYMONTHDAY" not in parts:
        raise RecurrenceRuleError("a monthly rule needs BYDAY (e.g. 2TU) or BYMONTHDAY")
    if freq == "WEEKLY" and "BYMONTHDAY" in parts:
        raise RecurrenceRuleError("BYMONTHDAY does not go with FREQ=WEEKLY")
    until = None
    if "UNTIL" in parts:
        match = _UNTIL.fullmatch(parts["UNTIL"])
        try:
            if match is None:
                raise ValueError
            until = dt.date(*(int(g) for g in match.groups()))
        except ValueError:
            raise RecurrenceRuleError(
                f"UNTIL={parts['UNTIL']} is not a date such as 20241231"
            ) from None
    weekdays = []
    for item in filter(None, parts.get("BYDAY", "").split(",")):
        found = _BYDAY.fullmatch(item)
        if found is None:
            raise RecurrenceRuleError(f"BYDAY {item} is not a weekday such as TU or 2TU")
        sign, ordinal, day = found.groups()
        nth = None
        if ordinal is not None:
            if freq != "MONTHLY":
                raise RecurrenceRuleError(f"BYDAY {item}: a numbered weekday needs FREQ=MONTHLY")
            if not 1 <= int(ordinal) <= 5:
                raise RecurrenceRuleError(f"BYDAY {item}: a month has at most five of a weekday")
            nth = int(ordinal) * (-1 if sign == "-" else 1)
        weekdays.append((nth, _WEEKDAYS[day]))
    monthdays = []
    for item in filter(None, parts.get("BYMONTHDAY", "").split(",")):
        day = _number("BYMONTHDAY", item, -31, 31)
        if day == 0:
            raise RecurrenceRuleError("BYMONTHDAY=0 is not a day of the month")
        monthdays.append(day)
    week_start = parts.get("WKST", "MO")
    if week_start not in _WEEKDAYS:
        raise RecurrenceRuleError(f"WKST={week_start} is not a weekday such as MO")
    if (
        "COUNT" in parts
        and _NUMBER.fullmatch(parts["COUNT"])
        and int(parts["COUNT"]) > MAX_OCCURRENCES
    ):
        raise RecurrenceRuleError(
            f"the rule yields more than {MAX_OCCURRENCES} occurrences (COUNT={parts['COUNT']})"
        )
    return _Rule(
        freq=freq,
        interval=_number("INTERVAL", parts.get("INTERVAL", "1"), 1, 1000),
        count=_number("COUNT", parts["COUNT"], 1, MAX_OCCURRENCES) if "COUNT" in parts else None,
        until=until,
        weekdays=tuple(weekdays),
        monthdays=tuple(monthdays),
        week_start=_WEEKDAYS[week_start],
    )


def check_rule(rule: str) -> None:
    """Raise `RecurrenceRuleError` unless `rule` is a finite daily, weekly or monthly RRULE."""
    if not occurrence_days(rule, dt.date(2024, 1, 1)):
        raise RecurrenceRuleError("the rule yields no occurrence in its first three years")


def has_weekday(rule: str) -> bool:
    return "BYDAY" in _parts(rule)


def _month_days(rule: _Rule, year: int, month: int, start: dt.date) -> list[dt.date]:
    """The days of one month a monthly rule keeps (or the start's day of month)."""
    length = calendar.monthrange(year, month)[1]
    days = set(range(1, length + 1))
    if rule.monthdays:
        days &= {d if d > 0 else length + 1 + d for d in rule.monthdays}
    if rule.weekdays and rule.freq == "MONTHLY":
        chosen: set[int] = set()
        for nth, weekday in rule.weekdays:
            matching = [
                d for d in range(1, length + 1) if calendar.weekday(year, month, d) == weekday
            ]
            if nth is None:
                chosen.update(matching)
            elif -len(matching) <= nth <= len(matching):
                chosen.add(matching[nth - 1 if nth > 0 else nth])
        days &= chosen
    if rule.freq == "MONTHLY" and not rule.monthdays and not rule.weekdays:
        days &= {start.day}
    return [dt.date(year, month, d) for d in sorted(days)]


def _period_days(rule: _Rule, start: dt.date, index: int) -> list[dt.date]:
    """The candidate days of the `index`-th period (day, week or month) of the rule."""
    step = index * rule.interval
    if rule.freq == "DAILY":
        day = start + dt.timedelta(days=step)
        if rule.weekdays and day.weekday() not in {w for _, w in rule.weekdays}:
            return []
        if rule.monthdays and day not in _month_days(rule, day.year, day.month, start):
            return []
        return [day]
    if rule.freq == "WEEKLY":
        first = start - dt.timedelta(days=(start.weekday() - rule.week_start) % 7)
        first += dt.timedelta(weeks=step)
        wanted = {w for _, w in rule.weekdays} or {start.weekday()}
        week = (first + dt.timedelta(days=n) for n in range(7))
        return [d for d in week if d.weekday() in wanted]
    months = start.year * 12 + start.month - 1 + step
    return _month_days(rule, months // 12, months % 12 + 1, start)


def _period_start(rule: _Rule, start: dt.date, index: int) -> dt.date:
    step = index * rule.interval
    if rule.freq == "DAILY":
        return start + dt.timedelta(days=step)
    if rule.freq == "WEEKLY":
        return start + dt.timedelta(weeks=step)
    months = start.year * 12 + start.month - 1 + step
    return dt.date(months // 12, months % 12 + 1, 1)


def occurrence_days(rule: str, start: dt.date, weekday: Weekday | None = None) -> list[dt.date]:
    """Days on which `rule` occurs from `start` on; `weekday` fills in a rule without BYDAY."""
    parsed = _parse(rule)
    if weekday is not None and not parsed.weekdays:
        parsed = _parse(f"{rule};BYDAY={weekday.value}")
    horizon = start + HORIZON
    out: list[dt.date] = []
    index = 0
    while _period_start(parsed, start, index) - dt.timedelta(days=31) <= horizon:
        for day in _period_days(parsed, start, index):
            if day < start:
                continue
            if parsed.until is not None and day > parsed.until:
                return out
            if day > horizon:
                raise RecurrenceRuleError(
                    f"the rule runs on past {horizon} (three years from its start): "
                    "end it sooner with COUNT or UNTIL"
                )
            if len(out) >= MAX_OCCURRENCES:
                raise RecurrenceRuleError(
                    f"the rule yields more than {MAX_OCCURRENCES} occurrences"
                )
            out.append(day)
            if parsed.count is not None and len(out) == parsed.count:
                return out
        index += 1
    if parsed.until is not None and parsed.until <= horizon:
        return out
    if parsed.count is not None and not out:
        return out  # never occurs: check_rule says so
    raise RecurrenceRuleError(
        f"the rule runs on past {horizon} (three years from its start): "
        "end it sooner with COUNT or UNTIL"
    )
