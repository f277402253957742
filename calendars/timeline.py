"""Expand a program and a cohort into a concrete timeline: pure and deterministic.

Every instant is computed from a local day and wall time in the zone the session keeps
(the convening's, the organizer's, a group's or a city's), so a series at 10:00 in Santiago
stays at 10:00 local across Chile's clock change. Slots are chosen in file order, so the same
files always give the same timeline.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from calendars.recurrence import RecurrenceRuleError, has_weekday, occurrence_days
from calendars.slots import Availability, BusyCalendar, local_instant, to_local
from calendars.timeline_types import (
    Attendee,
    Person,
    Timeline,
    TimelineDecisionPoint,
    TimelineDeliverable,
    TimelineSession,
)
from models.cohort_file import City, Cohort
from models.enums import Audience, Language, LanguageHandling, Place, Policy, Role, Scope, Weekday
from models.file_loading import source_line
from models.file_types import localized
from models.problems import Problem, Severity, format_place
from models.program_file import Anchor, Program, SessionSeries, WorkingHours


@dataclass(frozen=True)
class Group:
    """Cities that share one workshop series (same language, at most `max_cities`)."""

    id: str
    language: Language
    cities: tuple[City, ...]
    zone: str


def anchor_of(program: Program, cohort: Cohort) -> Anchor:
    """The cohort's own convening when it gives one, else the program's default."""
    return cohort.convening or program.default_anchor


def workshop_groups(cities: Sequence[City], max_cities: int) -> list[Group]:
    """Cities grouped by language in file order, split into equal chunks of at most `max_cities`."""
    groups: list[Group] = []
    by_language: dict[Language, list[City]] = {}
    for city in cities:
        by_language.setdefault(city.language, []).append(city)
    for language, members in by_language.items():
        chunks = -(-len(members) // max_cities)
        size = -(-len(members) // chunks)
        for n in range(chunks):
            part = tuple(members[n * size : (n + 1) * size])
            zones = Counter(c.timezone for c in part)
            zone = max(zones, key=lambda z: (zones[z], -[c.timezone for c in part].index(z)))
            suffix = f"-{n + 1}" if chunks > 1 else ""
            groups.append(Group(f"{language.value}{suffix}", language, part, zone))
    return groups


class _Expander:
    def __init__(self, program: Program, cohort: Cohort, program_file: str, cohort_file: str):
        self.program, self.cohort = program, cohort
        self.program_file, self.cohort_file = program_file, cohort_file
        self.anchor = anchor_of(program, cohort)
        self.busy = BusyCalendar()
        self.problems: list[Problem] = []
        self.city_index = {c.id: i for i, c in enumerate(cohort.cities)}
        self.people = self._people()
        self.window = (
            program.starts.resolve(self.anchor.date),
            program.ends.resolve(self.anchor.date),
        )

    # -- people ---------------------------------------------------------------------------

    def _people(self) -> dict[str, Person]:
        program, cohort = self.program, self.cohort
        people: dict[str, Person] = {}
        organizer = cohort.organizer
        people[organizer.email] = Person(
            organizer.email,
            organizer.name,
            organizer.email,
            Language.EN,
            organizer.timezone or program.timezone,
            Audience.ORGANIZER.value,
        )
        for coach in cohort.coaches:
            people[coach.email] = Person(
                coach.email,
                coach.name,
                coach.email,
                coach.languages[0],
                coach.timezone,
                Audience.COACH.value,
            )
        for city in cohort.cities:
            mayor = city.mayor
            people[mayor.email] = Person(
                mayor.email,
                mayor.name,
                mayor.email,
                mayor.language or city.language,
                city.timezone,
                Audience.MAYOR.value,
                city.id,
            )
            for member in city.team:
                people[member.email] = Person(
                    member.email,
                    member.name,
                    member.email,
                    member.language or city.language,
                    member.timezone or city.timezone,
                    member.role.value,
                    city.id,
                )
        return people

    def _attendees(self, series: SessionSeries, cities: Iterable[City]) -> tuple[Attendee, ...]:
        required = set(series.required)
        found: dict[str, bool] = {}

        def add(email: str, who: Audience) -> None:
            found[email] = found.get(email, False) or who in required

        coaches_seen: set[str] = set()
        for city in cities:
            if Audience.MAYOR in series.audience:
                add(city.mayor.email, Audience.MAYOR)
            if Audience.SENIOR_TEAM in series.audience:
                for member in city.team:
                    add(member.email, Audience.SENIOR_TEAM)
            if Audience.COACH in series.audience and city.coach not in coaches_seen:
                coaches_seen.add(city.coach)
                add(self.cohort.coach(city.coach).email, Audience.COACH)
        if Audience.ORGANIZER in series.audience:
            add(self.cohort.organizer.email, Audience.ORGANIZER)
        return tuple(sorted(Attendee(email, req) for email, req in found.items()))

    # -- constraints ----------------------------------------------------------------------

    def _hours(self, hours: WorkingHours | None) -> WorkingHours:
        return hours or self.program.working_hours

    def _availabilities(self, series: SessionSeries, cities: Sequence[City]) -> list[Availability]:
        out = []
        for city in cities:
            if {Audience.MAYOR, Audience.SENIOR_TEAM} & set(series.audience):
                out.append(
                    Availability(f"city:{city.id}", city.timezone, self._hours(city.working_hours))
                )
        if Audience.COACH in series.audience:
            for coach_id in dict.fromkeys(c.coach for c in cities):
                coach = self.cohort.coach(coach_id)
                out.append(
                    Availability(
                        f"coach:{coach.id}", coach.timezone, self._hours(coach.working_hours)
                    )
                )
        return out

    def _fits(
        self, slots: list[tuple[dt.datetime, dt.datetime]], owners: list[Availability]
    ) -> bool:
        return all(
            owner.covers(start, end) and self.busy.clash(owner.owner, start, end) is None
            for start, end in slots
            for owner in owners
        )

    def _report(
        self,
        series: SessionSeries,
        place: tuple[str | int, ...],
        message: str,
        *,
        file: str | None = None,
        always_error: bool = False,
    ) -> None:
        policy = series.working_hours or self.program.working_hours_policy
        severity = Severity.ERROR if always_error or policy is Policy.ERROR else Severity.WARNING
        source = self.program if file == self.program_file else self.cohort
        self.problems.append(
            Problem(
                file or self.cohort_file,
                format_place(place),
                message,
                severity,
                line=source_line(source, place),
            )
        )

    # -- placing sessions -------------------------------------------------------------------

    def _recurring_slots(
        self,
        series: SessionSeries,
        zone: str,
        owners: list[Availability],
        pinned: tuple[Weekday, dt.time] | None,
    ) -> tuple[list[tuple[dt.datetime, dt.datetime]], bool]:
        """Instants of a recurring series; the first candidate that fits, or the first one."""
        timing = series.recurrence
        assert timing is not None and series.duration is not None
        start_day = timing.starts.resolve(self.anchor.date)
        weekdays: list[Weekday | None]
        if pinned is not None:
            weekdays, times = [pinned[0]], [pinned[1]]
        else:
            weekdays = (
                [None] if has_weekday(timing.rule) or not timing.weekdays else [*timing.weekdays]
            )
            times = timing.times
        fallback: list[tuple[dt.datetime, dt.datetime]] | None = None
        reason = f"the rule yields no occurrence from {start_day}"
        for weekday in weekdays:
            try:
                days = occurrence_days(timing.rule, start_day, weekday)
            except RecurrenceRuleError as error:  # checked from 2024-01-01; the real start differs
                days, reason = [], str(error)
            if not days:
                continue  # another weekday may give days; an empty series would "fit" anything
            for time in times:
                slots = []
                for day in days:
                    start = local_instant(day, time, zone)
                    slots.append((start, start + series.duration))
                if fallback is None:
                    fallback = slots
                if self._fits(slots, owners):
                    return slots, True
        if fallback is None:
            self._rule_problem(series, reason)
            return [], True
        return fallback, False

    def _rule_problem(self, series: SessionSeries, message: str) -> None:
        """A recurrence that gives no days from its real start: an error, reported once."""
        index = next(i for i, s in enumerate(self.program.sessions) if s.id == series.id)
        place = format_place(("sessions", index, "recurrence", "rule"))
        problem = Problem(
            self.program_file,
            place,
            message,
            line=source_line(self.program, ("sessions", index, "recurrence", "rule")),
        )
        if problem not in self.problems:
            self.problems.append(problem)

    def _window_slot(
        self, series: SessionSeries, zone: str, owners: list[Availability]
    ) -> tuple[tuple[dt.datetime, dt.datetime], bool]:
        timing = series.window
        assert timing is not None and series.duration is not None
        first_day = timing.starts.resolve(self.anchor.date)
        fallback = None
        for offset in range(timing.days):
            day = first_day + dt.timedelta(days=offset)
            for time in timing.times:
                start = local_instant(day, time, zone)
                slot = (start, start + series.duration)
                fallback = fallback or slot
                if self._fits([slot], owners):
                    return slot, True
        assert fallback is not None
        return fallback, False

    def _fixed_slot(self, series: SessionSeries) -> tuple[dt.datetime, dt.datetime]:
        timing = series.at
        assert timing is not None
        zone = self.anchor.timezone
        start = local_instant(timing.starts.resolve(self.anchor.date), timing.start_time, zone)
        end = local_instant(timing.ends.resolve(self.anchor.date), timing.end_time, zone)
        return start, end

    def _location(self, series: SessionSeries, link_name: str) -> tuple[str, str | None]:
        if series.place is Place.VENUE:
            venue = self.anchor.venue
            return f"{venue.name}, {venue.address}", None
        url = f"{str(self.cohort.virtual_meeting.base_url).rstrip('/')}/{link_name}"
        return url, url

    def _invite_before(self, series: SessionSeries) -> dt.timedelta:
        if series.invite_before is not None:
            return series.invite_before
        point = next(
            (p for p in self.program.decision_points if p.id == series.decision_point), None
        )
        return point.notify_before if point is not None else self.program.invitation_lead

    def _session_language(
        self, series: SessionSeries, language: Language | None
    ) -> Language | None:
        return None if series.language is LanguageHandling.INTERPRETED else language

    def _make_sessions(
        self,
        series: SessionSeries,
        key_prefix: str,
        link: str,
        slots: list[tuple[dt.datetime, dt.datetime]],
        zone: str,
        cities: Sequence[City],
        language: Language | None,
        *,
        city_id: str | None = None,
        group_id: str | None = None,
        numbered: bool,
    ) -> list[TimelineSession]:
        location, url = self._location(series, link)
        attendees = self._attendees(series, cities)
        sessions = []
        for n, (start, end) in enumerate(slots, 1):
            key = f"{key_prefix}/{n:02d}" if numbered else key_prefix
            sessions.append(
                TimelineSession(
                    key=key,
                    series=series.id,
                    kind=series.kind,
                    title=dict(series.title),
                    description=dict(series.description) if series.description else None,
                    starts_at=start,
                    ends_at=end,
                    timezone=zone,
                    location=location,
                    meeting_url=url,
                    language=self._session_language(series, language),
                    attendees=attendees,
                    reminders=tuple(series.reminders),
                    city_id=city_id,
                    group_id=group_id,
                    decision_point=series.decision_point,
                    invite_before=self._invite_before(series),
                )
            )
        return sessions

    def _book(self, sessions: list[TimelineSession], owners: Iterable[str]) -> None:
        owners = list(owners)
        for session in sessions:
            for owner in owners:
                self.busy.book(owner, session.starts_at, session.ends_at, session.key)

    def _check_window(self, series_index: int, sessions: list[TimelineSession]) -> None:
        first, last = self.window
        for session in sessions:
            day = to_local(session.starts_at, session.timezone).date()
            if not first <= day <= last:
                self.problems.append(
                    Problem(
                        self.program_file,
                        format_place(("sessions", series_index)),
                        f"{session.key} on {day} falls outside the program window {first} to {last}",
                    )
                )

    def expand_series(self, index: int, series: SessionSeries) -> list[TimelineSession]:
        cohort = self.cohort
        base = f"{cohort.id}/{series.id}"
        all_owners = [f"city:{c.id}" for c in cohort.cities] + [
            f"coach:{c.id}" for c in cohort.coaches
        ]
        if series.scope is Scope.COHORT:
            if series.at is not None:
                slots, zone = [self._fixed_slot(series)], self.anchor.timezone
            else:
                zone = self.program.timezone
                slots, _ = self._recurring_slots(series, zone, [], None)
                self._warn_hours_cohort(index, series, slots)
            sessions = self._make_sessions(
                series,
                base,
                series.id,
                slots,
                zone,
                cohort.cities,
                None,
                numbered=series.at is None,
            )
            self._book(sessions, all_owners)
            return sessions
        if series.scope is Scope.GROUP:
            assert series.grouping is not None
            sessions = []
            for group in workshop_groups(cohort.cities, series.grouping.max_cities):
                owners = self._availabilities(series, group.cities)
                placed: list[tuple[dt.datetime, dt.datetime]]
                if series.window is not None:
                    slot, ok = self._window_slot(series, group.zone, owners)
                    placed = [slot]
                else:
                    placed, ok = self._recurring_slots(series, group.zone, owners, None)
                if not ok:
                    self._report(
                        series,
                        ("sessions", index),
                        f"no time for {series.id} group {group.id} fits every city's "
                        "working hours and calendar",
                        file=self.program_file,
                    )
                made = self._make_sessions(
                    series,
                    f"{base}/{group.id}",
                    f"{series.id}-{group.id}",
                    placed,
                    group.zone,
                    group.cities,
                    group.language,
                    group_id=group.id,
                    numbered=series.window is None,
                )
                self._book(made, [o.owner for o in owners])
                sessions.extend(made)
            return sessions
        sessions = []
        for i, city in enumerate(cohort.cities):
            owners = self._availabilities(series, [city])
            pinned = None
            if series.kind.value == "coaching" and city.coaching is not None:
                pinned = (city.coaching.weekday, city.coaching.time)
            if series.window is not None:
                slot, ok = self._window_slot(series, city.timezone, owners)
                placed = [slot]
            elif series.recurrence is not None:
                placed, ok = self._recurring_slots(series, city.timezone, owners, pinned)
            else:
                placed, ok = [self._fixed_slot(series)], True
            if not ok:
                self._explain_misfit(i, city, series, placed, owners, pinned is not None)
            made = self._make_sessions(
                series,
                f"{base}/{city.id}",
                f"{series.id}-{city.id}",
                placed,
                city.timezone,
                [city],
                city.language,
                city_id=city.id,
                numbered=series.recurrence is not None,
            )
            self._book(made, [o.owner for o in owners])
            sessions.extend(made)
        return sessions

    def _explain_misfit(
        self,
        i: int,
        city: City,
        series: SessionSeries,
        slots: list[tuple[dt.datetime, dt.datetime]],
        owners: list[Availability],
        pinned: bool,
    ) -> None:
        place: tuple[str | int, ...] = ("cities", i, "coaching") if pinned else ("cities", i)
        for start, end in slots:
            for owner in owners:
                local = to_local(start, owner.zone)
                if not owner.covers(start, end):
                    self._report(
                        series,
                        place,
                        f"{series.id} on {local:%Y-%m-%d %H:%M} ({owner.zone}) is outside "
                        f"the working hours of {owner.owner.replace(':', ' ')}",
                    )
                    return
                if (other := self.busy.clash(owner.owner, start, end)) is not None:
                    who = owner.owner.replace(":", " ")
                    label = "double-booked" if owner.owner.startswith("coach:") else "busy"
                    self._report(
                        series,
                        place,
                        f"{who} is {label}: {series.id} on {local:%Y-%m-%d %H:%M} "
                        f"({owner.zone}) overlaps {other}",
                        always_error=True,
                    )
                    return

    def _warn_hours_cohort(
        self, index: int, series: SessionSeries, slots: list[tuple[dt.datetime, dt.datetime]]
    ) -> None:
        owners = self._availabilities(series, self.cohort.cities)
        for owner in owners:
            for start, end in slots:
                if not owner.covers(start, end):
                    local = to_local(start, owner.zone)
                    self._report(
                        series,
                        ("sessions", index),
                        f"{series.id} on {local:%Y-%m-%d %H:%M} ({owner.zone}) is outside "
                        f"the working hours of {owner.owner.replace(':', ' ')}",
                        file=self.program_file,
                    )
                    break

    # -- deliverables and decision points -------------------------------------------------------

    def deliverables(self) -> list[TimelineDeliverable]:
        out = []
        for city in self.cohort.cities:
            for deliverable in self.program.deliverables:
                owners: list[str] = []
                for owner in deliverable.owners:
                    if owner == Audience.MAYOR:
                        owners.append(city.mayor.email)
                    elif owner == Audience.SENIOR_TEAM:
                        owners.extend(m.email for m in city.team)
                    elif owner == Audience.COACH:
                        owners.append(self.cohort.coach(city.coach).email)
                    elif owner == Audience.ORGANIZER:
                        owners.append(self.cohort.organizer.email)
                    else:
                        role = Role(owner)
                        # A role the city lacks falls to its whole senior team (documented).
                        holders = [m.email for m in city.team if m.role is role]
                        owners.extend(holders or [m.email for m in city.team])
                due_day = deliverable.due.resolve(self.anchor.date)
                out.append(
                    TimelineDeliverable(
                        key=f"{self.cohort.id}/deliverable/{city.id}/{deliverable.id}",
                        deliverable=deliverable.id,
                        city_id=city.id,
                        title=dict(deliverable.title),
                        due_at=local_instant(
                            due_day, self.program.deliverable_due_time, city.timezone
                        ),
                        owners=tuple(dict.fromkeys(owners)),
                        reminders=tuple(deliverable.reminders),
                    )
                )
        return out

    def decision_points(self, sessions: list[TimelineSession]) -> list[TimelineDecisionPoint]:
        by_point = {
            (s.decision_point, s.city_id): s for s in sessions if s.decision_point is not None
        }
        out = []
        for city in self.cohort.cities:
            for point in self.program.decision_points:
                checkin = by_point.get((point.id, city.id))
                if checkin is None:
                    continue
                out.append(
                    TimelineDecisionPoint(
                        key=f"{self.cohort.id}/decision/{city.id}/{point.id}",
                        decision_point=point.id,
                        city_id=city.id,
                        checkin_session=checkin.key,
                        notify_at=checkin.starts_at - point.notify_before,
                        title=dict(point.title),
                        decide=dict(point.decide),
                        deliverables=tuple(
                            f"{self.cohort.id}/deliverable/{city.id}/{d}"
                            for d in point.deliverables
                        ),
                    )
                )
        return out

    def run(self) -> Timeline:
        sessions: list[TimelineSession] = []
        # Cohort-wide sessions first, then groups, then cities: wider sessions claim their time
        # before per-city sessions are fitted around them.
        order = {Scope.COHORT: 0, Scope.GROUP: 1, Scope.CITY: 2}
        for index, series in sorted(
            enumerate(self.program.sessions), key=lambda p: order[p[1].scope]
        ):
            made = self.expand_series(index, series)
            self._check_window(index, made)
            sessions.extend(made)
        sessions.sort(key=lambda s: (s.starts_at, s.key))
        return Timeline(
            cohort_id=self.cohort.id,
            program_id=self.program.id,
            people=self.people,
            sessions=sessions,
            deliverables=self.deliverables(),
            decision_points=self.decision_points(sessions),
            problems=self.problems,
        )


def expand_timeline(
    program: Program, cohort: Cohort, *, program_file: str = "program", cohort_file: str = "cohort"
) -> Timeline:
    """`(program, cohort) -> Timeline`. Problems found while placing sessions are in `.problems`."""
    return _Expander(program, cohort, program_file, cohort_file).run()


def title_in(session: TimelineSession, language: Language) -> str:
    return localized(session.title, language)
