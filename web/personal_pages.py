"""What a personal (or a city team's) page shows: the same sessions as its feed, and deliverables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from accel.deliverables import DeliverableStatus, city_deliverables
from accel.feed_source import load_feed_source
from accel.feed_store import load_city_rows, load_person_rows
from accel.people_queries import CityInfo, find_active_person, find_city, people_names
from calendars.feed_content import FeedContent, city_feed, person_feed
from calendars.local_time import format_local_datetime, format_local_span, format_zone_label


@dataclass(frozen=True)
class PageSession:
    uid: str
    summary: str
    starts_at: dt.datetime
    when: str  # day, times and zone, in the reader's zone and language
    location: str
    url: str | None
    cancelled: bool


@dataclass(frozen=True)
class PageDeliverable:
    deliverable: str
    title: str
    due: str
    status: DeliverableStatus
    submitted: str | None
    owners: tuple[str, ...]  # names


@dataclass(frozen=True)
class SubjectPage:
    """Whose page it is (a person or a city team), in which zone and language, and its content."""

    subject_type: str
    name: str
    city_name: str | None
    language: str
    timezone: str
    zone_label: str
    sessions: Sequence[PageSession]
    deliverables: Sequence[PageDeliverable]


def person_page(
    connection: sa.Connection, *, cohort_id: str, email: str, now: dt.datetime
) -> SubjectPage | None:
    """A person's page, or None when they are unknown or no longer in the cohort."""
    person = find_active_person(connection, cohort_id=cohort_id, email=email)
    source = load_feed_source(connection, cohort_id=cohort_id)
    if person is None or source is None:
        return None
    rows = load_person_rows(connection, cohort_id=cohort_id, email=email)
    if email not in rows.people:
        return None
    content = person_feed(source, rows.people[email], rows.sessions, rows.invitations)
    city = _city(connection, cohort_id, person.city_id)
    deliverables = [
        d
        for d in _deliverables(connection, cohort_id, person.city_id, person.language, now)
        if email in d[1]
    ]
    return SubjectPage(
        subject_type="person",
        name=person.name,
        city_name=city.name if city is not None else None,
        language=person.language,
        timezone=person.timezone,
        zone_label=format_zone_label(now, person.timezone, person.language),
        sessions=_upcoming(content, person.timezone, person.language, now),
        deliverables=[d for d, _ in deliverables],
    )


def city_page(
    connection: sa.Connection, *, cohort_id: str, city_id: str, now: dt.datetime
) -> SubjectPage | None:
    """A city team's page, in the city's zone and language, or None for an unknown city."""
    city = _city(connection, cohort_id, city_id)
    source = load_feed_source(connection, cohort_id=cohort_id)
    if city is None or source is None or city_id not in source.cities:
        return None
    rows = load_city_rows(connection, cohort_id=cohort_id, city_id=city_id)
    content = city_feed(source, city_id, rows.sessions, rows.invitations, rows.people)
    return SubjectPage(
        subject_type="city",
        name=city.name,
        city_name=city.name,
        language=city.language,
        timezone=city.timezone,
        zone_label=format_zone_label(now, city.timezone, city.language),
        sessions=_upcoming(content, city.timezone, city.language, now),
        deliverables=[
            d for d, _ in _deliverables(connection, cohort_id, city_id, city.language, now)
        ],
    )


def _upcoming(
    content: FeedContent, zone: str, language: str, now: dt.datetime
) -> list[PageSession]:
    events = sorted((e for e in content.events if e.ends_at > now), key=lambda e: e.starts_at)
    return [
        PageSession(
            uid=e.uid,
            summary=e.summary,
            starts_at=e.starts_at,
            when=format_local_span(e.starts_at, e.ends_at, zone, language),
            location=e.location,
            url=e.url,
            cancelled=e.cancelled,
        )
        for e in events
    ]


def _city(connection: sa.Connection, cohort_id: str, city_id: str | None) -> CityInfo | None:
    if city_id is None:
        return None
    return find_city(connection, cohort_id=cohort_id, city_id=city_id)


def _deliverables(
    connection: sa.Connection,
    cohort_id: str,
    city_id: str | None,
    language: str,
    now: dt.datetime,
) -> list[tuple[PageDeliverable, tuple[str, ...]]]:
    """The city's deliverables, each with its owners' emails (to pick a person's own)."""
    if city_id is None:
        return []
    city = _city(connection, cohort_id, city_id)
    zone = city.timezone if city is not None else "UTC"
    names = people_names(connection, cohort_id=cohort_id, city_id=city_id)
    found = []
    for d in city_deliverables(connection, cohort_id=cohort_id, city_id=city_id, now=now):
        submitted = d.submitted_at if d.submitted_at is not None and d.submitted_at <= now else None
        found.append(
            (
                PageDeliverable(
                    deliverable=d.deliverable,
                    title=d.title.get(language) or d.title.get("en", d.deliverable),
                    due=format_local_datetime(d.due_at, zone, language),
                    status=d.status,
                    submitted=format_local_datetime(submitted, zone, language)
                    if submitted
                    else None,
                    owners=tuple(names.get(o, o) for o in d.owners),
                ),
                d.owners,
            )
        )
    return found
