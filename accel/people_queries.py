"""Cities and people in the database: the cohort's cities from its file, people from the plan,
and what the pages read of both."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import sqlalchemy as sa

from accel.feed_tokens import revoke_tokens
from calendars.fingerprints import fingerprint
from calendars.reconcile import Action, ItemChange, StoredItem
from calendars.timeline_types import Person
from models.cohort_file import Cohort
from models.enums import RecordStatus
from models.tables import CITY, PERSON

CANCELLED = RecordStatus.CANCELLED.value
SCHEDULED = RecordStatus.SCHEDULED.value


@dataclass(frozen=True)
class CityInfo:
    id: str
    name: str
    country: str
    timezone: str
    language: str
    coach_email: str
    mayor_email: str


@dataclass(frozen=True)
class PersonInfo:
    email: str
    name: str
    role: str
    language: str
    timezone: str
    city_id: str | None


_CITY_COLUMNS = [CITY.c[f.name] for f in fields(CityInfo)]
_PERSON_COLUMNS = [PERSON.c[f.name] for f in fields(PersonInfo)]


def cohort_ids(connection: sa.Connection) -> list[str]:
    """Applied cohorts, the most recently applied first."""
    latest = sa.func.max(CITY.c.changed_at)
    rows = connection.execute(
        sa.select(CITY.c.cohort_id, latest).group_by(CITY.c.cohort_id).order_by(latest.desc())
    )
    return [row[0] for row in rows]


def load_cities(connection: sa.Connection, *, cohort_id: str) -> list[CityInfo]:
    """The cohort's cities, by name."""
    rows = connection.execute(
        sa.select(*_CITY_COLUMNS)
        .where(CITY.c.cohort_id == cohort_id)
        .order_by(CITY.c.name, CITY.c.id)
    )
    return [CityInfo(**row._mapping) for row in rows]


def find_city(connection: sa.Connection, *, cohort_id: str, city_id: str) -> CityInfo | None:
    row = connection.execute(
        sa.select(*_CITY_COLUMNS).where(CITY.c.cohort_id == cohort_id, CITY.c.id == city_id)
    ).first()
    return None if row is None else CityInfo(**row._mapping)


def city_people(connection: sa.Connection, *, cohort_id: str, city_id: str) -> list[PersonInfo]:
    """The city's active people, mayor first."""
    rows = connection.execute(
        sa.select(*_PERSON_COLUMNS)
        .where(PERSON.c.cohort_id == cohort_id)
        .where(PERSON.c.city_id == city_id)
        .where(PERSON.c.active.is_(True))
        .order_by(PERSON.c.role != "mayor", PERSON.c.name)
    )
    return [PersonInfo(**row._mapping) for row in rows]


def find_active_person(
    connection: sa.Connection, *, cohort_id: str, email: str
) -> PersonInfo | None:
    """The person, or None when they are unknown or no longer in the cohort."""
    row = connection.execute(
        sa.select(*_PERSON_COLUMNS, PERSON.c.active).where(
            PERSON.c.cohort_id == cohort_id, PERSON.c.email == email
        )
    ).first()
    if row is None or not row.active:
        return None
    return PersonInfo(**{f.name: row._mapping[f.name] for f in fields(PersonInfo)})


def people_names(connection: sa.Connection, *, cohort_id: str, city_id: str) -> dict[str, str]:
    """Email to name of everyone ever in the city's team (removed people keep their name)."""
    return dict(
        connection.execute(
            sa.select(PERSON.c.email, PERSON.c.name).where(
                PERSON.c.cohort_id == cohort_id, PERSON.c.city_id == city_id
            )
        ).all()
    )


def save_cities(connection: sa.Connection, *, cohort: Cohort, now: dt.datetime) -> None:
    """Replace the stored cities of `cohort` with the file's (a handful of rows, always fresh)."""
    cities = [
        CityInfo(
            c.id,
            c.name,
            c.country,
            c.timezone,
            c.language.value,
            cohort.coach(c.coach).email,
            c.mayor.email,
        )
        for c in cohort.cities
    ]
    stored = {
        CityInfo(**row._mapping)
        for row in connection.execute(
            sa.select(*_CITY_COLUMNS).where(CITY.c.cohort_id == cohort.id)
        )
    }
    if stored != set(cities):
        # A city that left the cohort: its feed and team page answer 404 from this commit.
        revoke_tokens(
            connection,
            cohort_id=cohort.id,
            subject_type="city",
            subjects={c.id for c in stored} - {c.id for c in cities},
            now=now,
        )
        connection.execute(sa.delete(CITY).where(CITY.c.cohort_id == cohort.id))
        connection.execute(
            sa.insert(CITY),
            [{"cohort_id": cohort.id, **asdict(city), "changed_at": now} for city in cities],
        )


def stored_people(connection: sa.Connection, *, cohort_id: str) -> dict[str, StoredItem]:
    """Each stored person's content fingerprint; a removed (inactive) person counts as cancelled."""
    return {
        row.email: StoredItem(
            fingerprint(person_content_of_row(row)), SCHEDULED if row.active else CANCELLED
        )
        for row in connection.execute(sa.select(PERSON).where(PERSON.c.cohort_id == cohort_id))
    }


def person_content_of_row(row: Any) -> dict[str, Any]:
    """Mirrors `calendars.fingerprints.person_content` for a stored row (language as stored)."""
    content: dict[str, Any] = {
        "name": row.name,
        "language": row.language,
        "timezone": row.timezone,
        "role": row.role,
        "city_id": row.city_id,
    }
    if row.addressing:
        content["addressing"] = row.addressing
    return content


def write_people_changes(
    connection: sa.Connection,
    *,
    cohort_id: str,
    people: Mapping[str, Person],
    changes: list[ItemChange],
    now: dt.datetime,
) -> None:
    """Insert added people, rewrite changed ones; a removed person stays, inactive, and their
    feed and page tokens are revoked in the same transaction (the same 404 as an unknown one)."""
    inserts = []
    removed = [c.key for c in changes if c.action is Action.CANCELLED]
    revoke_tokens(connection, cohort_id=cohort_id, subject_type="person", subjects=removed, now=now)
    for change in changes:
        where = (PERSON.c.cohort_id == cohort_id) & (PERSON.c.email == change.key)
        if change.action is Action.CANCELLED:
            connection.execute(sa.update(PERSON).where(where).values(active=False, changed_at=now))
            continue
        person = people[change.key]
        values = {
            "name": person.name,
            "language": person.language.value,
            "timezone": person.timezone,
            "role": person.role,
            "city_id": person.city_id,
            "addressing": person.addressing_json(),
            "active": True,
            "changed_at": now,
        }
        if change.action is Action.ADDED:
            inserts.append({"cohort_id": cohort_id, "email": person.key, **values})
        else:
            connection.execute(sa.update(PERSON).where(where).values(**values))
    if inserts:
        connection.execute(sa.insert(PERSON), inserts)
