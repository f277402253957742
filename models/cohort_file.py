"""Schema of a cohort file (`cohorts/*.yaml`): the organizer, the coaches and the cities of one cohort."""

from __future__ import annotations

import re
from typing import Annotated, Self

import holidays
from pydantic import AfterValidator, Field, HttpUrl, model_validator

from models.enums import Language, Role, Weekday
from models.file_types import OneLine, Slug, TimeZoneName, WallTime
from models.program_file import Anchor, FileModel, WorkingHours

# Deliberately plain: a local part, one @, a dotted domain; no spaces, quotes, angle brackets or
# line breaks, so an address can never smuggle a header or a second recipient into an email.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


def _check_email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise ValueError("not an email address")
    return value.lower()


Email = Annotated[str, AfterValidator(_check_email)]
PersonName = Annotated[OneLine, Field(min_length=1, max_length=120)]


def _check_country(value: str) -> str:
    if value not in holidays.list_supported_countries():
        raise ValueError(f"no public-holiday calendar for country {value!r} (ISO 3166-1 alpha-2)")
    return value


# Required rather than guessed from the zone: one zone spans several countries
# (America/Mexico_City is also Guadalajara's; America/New_York is Toronto's too in practice),
# and a wrong country would silently schedule on someone's national holiday.
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$"), AfterValidator(_check_country)]


def _check_subdivision(country: str, subdivision: str | None) -> None:
    if subdivision is not None:
        known = holidays.list_supported_countries().get(country, [])
        if subdivision not in known:
            raise ValueError(
                f"{country} has no subdivision {subdivision!r} (use its ISO 3166-2 code)"
            )


class Organizer(FileModel):
    name: PersonName
    email: Email
    reply_to: Email | None = None
    timezone: TimeZoneName | None = None


class Coach(FileModel):
    id: Slug
    name: PersonName
    email: Email
    timezone: TimeZoneName
    languages: list[Language] = Field(min_length=1)
    working_hours: WorkingHours | None = None
    # Whose public holidays the coach keeps; without it only weekends are days off.
    country: Country | None = None
    subdivision: str | None = Field(default=None, max_length=10)

    @model_validator(mode="after")
    def _known_subdivision(self) -> Self:
        if self.subdivision is not None and self.country is None:
            raise ValueError("a subdivision needs a country")
        if self.country is not None:
            _check_subdivision(self.country, self.subdivision)
        return self


class Substitute(FileModel):
    name: PersonName
    email: Email | None = None


class Mayor(FileModel):
    name: PersonName
    email: Email
    language: Language | None = None
    substitute: Substitute | None = None


class TeamMember(FileModel):
    name: PersonName
    email: Email
    role: Role
    language: Language | None = None
    timezone: TimeZoneName | None = None


class CoachingSlot(FileModel):
    """Pins a city's coaching to a weekday and a local time instead of letting the engine choose."""

    weekday: Weekday
    time: WallTime


class City(FileModel):
    id: Slug
    name: PersonName
    country: Country
    subdivision: str | None = Field(default=None, max_length=10)  # ISO 3166-2, e.g. JAL
    timezone: TimeZoneName
    language: Language
    coach: Slug
    mayor: Mayor
    team: list[TeamMember]
    working_hours: WorkingHours | None = None
    coaching: CoachingSlot | None = None

    @model_validator(mode="after")
    def _known_subdivision(self) -> Self:
        _check_subdivision(self.country, self.subdivision)
        return self


class VirtualMeeting(FileModel):
    base_url: HttpUrl


class Cohort(FileModel):
    id: Slug = Field(alias="cohort")
    program: Slug
    organizer: Organizer
    convening: Anchor | None = None
    virtual_meeting: VirtualMeeting
    coaches: list[Coach] = Field(min_length=1)
    cities: list[City] = Field(min_length=1)

    model_config = FileModel.model_config | {"populate_by_name": True}

    def coach(self, coach_id: str) -> Coach:
        return next(c for c in self.coaches if c.id == coach_id)
