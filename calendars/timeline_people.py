"""Who takes part: the cohort's people, each series' attendees, and the workshop groups."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from calendars.timeline_types import Attendee, Person
from models.cohort_file import City, Cohort
from models.enums import Audience, Language
from models.program_file import Program, SessionSeries


@dataclass(frozen=True)
class Group:
    """Cities that share one workshop series (same language, at most `max_cities`)."""

    id: str
    language: Language
    cities: tuple[City, ...]
    zone: str


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


def cohort_people(program: Program, cohort: Cohort) -> dict[str, Person]:
    """Everyone of the cohort by email: the organizer, the coaches, each city's mayor and team."""
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
            mayor.addressing(),
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
                member.addressing(),
            )
    return people


def series_attendees(
    cohort: Cohort, series: SessionSeries, cities: Iterable[City]
) -> tuple[Attendee, ...]:
    """The series' audience among `cities`; required when any of their audiences is required."""
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
            add(cohort.coach(city.coach).email, Audience.COACH)
    if Audience.ORGANIZER in series.audience:
        add(cohort.organizer.email, Audience.ORGANIZER)
    return tuple(sorted(Attendee(email, req) for email, req in found.items()))
