"""Expand a program and a cohort into a concrete timeline: pure and deterministic.

Every instant is computed from a local day and wall time in the zone the session keeps
(the convening's, the organizer's, a group's or a city's), so a series at 10:00 in Santiago
stays at 10:00 local across Chile's clock change. Slots are chosen in file order, so the same
files always give the same timeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from calendars.anchored_slots import fixed_slot, window_slot
from calendars.days_off import people_days_off
from calendars.expansion import Expansion, Slot
from calendars.holiday_checks import holiday_problems
from calendars.recurring_slots import recurring_slots
from calendars.series_fit import availabilities, explain_misfit, warn_hours_cohort
from calendars.slots import to_local
from calendars.timeline_deadlines import timeline_decision_points, timeline_deliverables
from calendars.timeline_people import cohort_people, series_attendees, workshop_groups
from calendars.timeline_types import Timeline, TimelineSession
from models.cohort_file import City, Cohort
from models.enums import Language, LanguageHandling, Place, Scope, Weekday
from models.file_types import localized
from models.problems import Problem, format_place
from models.program_file import Program, SessionSeries

# Cohort-wide sessions first, then groups, then cities: wider sessions claim their time
# before per-city sessions are fitted around them.
_SCOPE_ORDER = {Scope.COHORT: 0, Scope.GROUP: 1, Scope.CITY: 2}


def expand_timeline(
    program: Program, cohort: Cohort, *, program_file: str = "program", cohort_file: str = "cohort"
) -> Timeline:
    """`(program, cohort) -> Timeline`. Problems found while placing sessions are in `.problems`."""
    expansion = Expansion(program, cohort, program_file, cohort_file)
    sessions: list[TimelineSession] = []
    for index, series in sorted(
        enumerate(program.sessions), key=lambda p: _SCOPE_ORDER[p[1].scope]
    ):
        made = expand_series(expansion, index, series)
        _check_window(expansion, index, made)
        sessions.extend(made)
    sessions.sort(key=lambda s: (s.starts_at, s.key))
    people = cohort_people(program, cohort)
    deliverables = timeline_deliverables(program, cohort, expansion.anchor.date, expansion.days_off)
    expansion.problems.extend(holiday_problems(expansion, sessions, deliverables, people))
    return Timeline(
        cohort_id=cohort.id,
        program_id=program.id,
        people=people,
        sessions=sessions,
        deliverables=deliverables,
        decision_points=timeline_decision_points(program, cohort, sessions, expansion.days_off),
        problems=expansion.problems,
        days_off=people_days_off(program, cohort, expansion.window),
    )


def expand_series(expansion: Expansion, index: int, series: SessionSeries) -> list[TimelineSession]:
    """The sessions of one series, placed and booked: one set for the cohort, a group or a city."""
    if series.scope is Scope.COHORT:
        return _expand_for_cohort(expansion, index, series)
    if series.scope is Scope.GROUP:
        return _expand_per_group(expansion, index, series)
    return _expand_per_city(expansion, series)


def _expand_for_cohort(
    expansion: Expansion, index: int, series: SessionSeries
) -> list[TimelineSession]:
    """At the `at` time, or on the program's clock; everyone's calendar is booked."""
    cohort = expansion.cohort
    if series.at is not None:
        slots, zone = [fixed_slot(expansion, series)], expansion.anchor.timezone
    else:
        zone = expansion.program.timezone
        # Everyone attends: no occurrence on a public holiday of any city or coach.
        avoid = expansion.holidays_of(list(expansion.days_off))
        slots, _ = recurring_slots(expansion, series, zone, [], None, avoid)
        warn_hours_cohort(expansion, index, series, slots)
    sessions = _make_sessions(
        expansion,
        series,
        f"{cohort.id}/{series.id}",
        series.id,
        slots,
        zone,
        cohort.cities,
        None,
        numbered=series.at is None,
    )
    everyone = [f"city:{c.id}" for c in cohort.cities] + [f"coach:{c.id}" for c in cohort.coaches]
    _book(expansion, sessions, everyone)
    return sessions


def _expand_per_group(
    expansion: Expansion, index: int, series: SessionSeries
) -> list[TimelineSession]:
    """One set per workshop group, on the group's clock, fitted to its cities and coaches."""
    assert series.grouping is not None
    sessions = []
    for group in workshop_groups(expansion.cohort.cities, series.grouping.max_cities):
        owners = availabilities(expansion, series, group.cities)
        placed: list[Slot]
        if series.window is not None:
            slot, ok = window_slot(expansion, series, group.zone, owners)
            placed = [slot]
        else:
            placed, ok = recurring_slots(expansion, series, group.zone, owners, None)
        if not ok:
            expansion.report(
                series,
                ("sessions", index),
                f"no time for {series.id} group {group.id} fits every city's "
                "working hours and calendar",
                file=expansion.program_file,
            )
        made = _make_sessions(
            expansion,
            series,
            f"{expansion.cohort.id}/{series.id}/{group.id}",
            f"{series.id}-{group.id}",
            placed,
            group.zone,
            group.cities,
            group.language,
            group_id=group.id,
            numbered=series.window is None,
        )
        _book(expansion, made, [o.owner for o in owners])
        sessions.extend(made)
    return sessions


def _expand_per_city(expansion: Expansion, series: SessionSeries) -> list[TimelineSession]:
    """One set per city, on the city's clock (a coaching series at the city's own slot)."""
    sessions = []
    for i, city in enumerate(expansion.cohort.cities):
        owners = availabilities(expansion, series, [city])
        pinned = _coaching_slot(series, city)
        if series.window is not None:
            slot, ok = window_slot(expansion, series, city.timezone, owners)
            placed = [slot]
        elif series.recurrence is not None:
            placed, ok = recurring_slots(expansion, series, city.timezone, owners, pinned)
        else:
            placed, ok = [fixed_slot(expansion, series)], True
        if not ok:
            explain_misfit(expansion, i, series, placed, owners, pinned is not None)
        made = _make_sessions(
            expansion,
            series,
            f"{expansion.cohort.id}/{series.id}/{city.id}",
            f"{series.id}-{city.id}",
            placed,
            city.timezone,
            [city],
            city.language,
            city_id=city.id,
            numbered=series.recurrence is not None,
        )
        _book(expansion, made, [o.owner for o in owners])
        sessions.extend(made)
    return sessions


def _coaching_slot(series: SessionSeries, city: City) -> tuple[Weekday, dt.time] | None:
    """The weekday and time a city asked for its coaching, if it did."""
    if series.kind.value == "coaching" and city.coaching is not None:
        return city.coaching.weekday, city.coaching.time
    return None


def _make_sessions(
    expansion: Expansion,
    series: SessionSeries,
    key_prefix: str,
    link: str,
    slots: list[Slot],
    zone: str,
    cities: Sequence[City],
    language: Language | None,
    *,
    city_id: str | None = None,
    group_id: str | None = None,
    numbered: bool,
) -> list[TimelineSession]:
    location, url = _location(expansion, series, link)
    attendees = series_attendees(expansion.cohort, series, cities)
    sessions = []
    for n, (start, end) in enumerate(slots, 1):
        key = f"{key_prefix}/{n:02d}" if numbered else key_prefix
        sessions.append(
            TimelineSession(
                key=key,
                series=series.id,
                kind=series.kind,
                title=occurrence_title(series, n),
                description=occurrence_description(series, n),
                starts_at=start,
                ends_at=end,
                timezone=zone,
                location=location,
                meeting_url=url,
                language=None if series.language is LanguageHandling.INTERPRETED else language,
                attendees=attendees,
                reminders=tuple(series.reminders),
                city_id=city_id,
                group_id=group_id,
                decision_point=series.decision_point,
                invite_before=_invite_before(expansion.program, series),
            )
        )
    return sessions


def _location(
    expansion: Expansion, series: SessionSeries, link_name: str
) -> tuple[str, str | None]:
    """(location, meeting URL): the venue's address, or the series' own virtual meeting link."""
    if series.place is Place.VENUE:
        venue = expansion.anchor.venue
        return f"{venue.name}, {venue.address}", None
    url = f"{str(expansion.cohort.virtual_meeting.base_url).rstrip('/')}/{link_name}"
    return url, url


def _invite_before(program: Program, series: SessionSeries) -> dt.timedelta:
    if series.invite_before is not None:
        return series.invite_before
    point = next((p for p in program.decision_points if p.id == series.decision_point), None)
    return point.notify_before if point is not None else program.invitation_lead


def _book(expansion: Expansion, sessions: list[TimelineSession], owners: Iterable[str]) -> None:
    owners = list(owners)
    for session in sessions:
        for owner in owners:
            expansion.busy.book(owner, session.starts_at, session.ends_at, session.key)


def _check_window(expansion: Expansion, series_index: int, sessions: list[TimelineSession]) -> None:
    first, last = expansion.window
    for session in sessions:
        day = to_local(session.starts_at, session.timezone).date()
        if not first <= day <= last:
            expansion.problems.append(
                Problem(
                    expansion.program_file,
                    format_place(("sessions", series_index)),
                    f"{session.key} on {day} falls outside the program window {first} to {last}",
                )
            )


def title_in(session: TimelineSession, language: Language) -> str:
    return localized(session.title, language)


# Labels of a topic's lines in a description, per language (English for any other).
_SPEAKER = {Language.ES: "Ponente", Language.EN: "Speaker", Language.PT: "Palestrante"}
_PREPARE = {Language.ES: "Para preparar", Language.EN: "To prepare", Language.PT: "Para preparar"}


def occurrence_title(series: SessionSeries, n: int) -> dict[Language, str]:
    """The series title, followed by the n-th occurrence's topic when the program gives one."""
    if n > len(series.topics):
        return dict(series.title)
    topic = series.topics[n - 1].title
    return {lang: f"{text}: {localized(topic, lang)}" for lang, text in series.title.items()}


def occurrence_description(series: SessionSeries, n: int) -> dict[Language, str] | None:
    """The series description, with the n-th topic's speaker and what to prepare."""
    base = dict(series.description) if series.description else None
    if n > len(series.topics):
        return base
    topic = series.topics[n - 1]
    languages = set(series.title) | set(base or {})
    out = {}
    for lang in sorted(languages):
        lines = [localized(base, lang)] if base else []
        if topic.speaker:
            lines.append(f"{_SPEAKER.get(lang, 'Speaker')}: {topic.speaker}")
        if topic.prepare:
            lines.append(f"{_PREPARE.get(lang, 'To prepare')}: {localized(topic.prepare, lang)}")
        out[lang] = "\n".join(lines)
    return out or None
