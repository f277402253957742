"""Schema of a cohort file (`cohorts/*.yaml`): the organizer, the coaches and the cities of one cohort."""

from __future__ import annotations

from typing import Annotated, Any, Self

import holidays
from pydantic import AfterValidator, Field, HttpUrl, model_validator

from models.addresses import check_email_address
from models.enums import Language, Role, Weekday
from models.file_types import OneLine, Slug, TimeZoneName, WallTime
from models.program_file import Anchor, FileModel, WorkingHours


def _check_email(value: str) -> str:
    return check_email_address(value).lower()


Email = Annotated[str, AfterValidator(_check_email)]
PersonName = Annotated[OneLine, Field(min_length=1, max_length=120)]


# A title or salutation, per language: {es: Alcaldesa, en: Mayor, pt: Prefeita}; one line each.
Honorific = Annotated[OneLine, Field(min_length=1, max_length=40)]
PerLanguage = dict[Language, Honorific]
FamilyName = Annotated[OneLine, Field(min_length=1, max_length=80)]


class Addressed(FileModel):
    """How letters address a person: "Estimada alcaldesa Fuentes:", "Dear Mayor Fuentes,".

    `title` and `salutation` are given for the same languages; `family_name` defaults to the
    last word of the name. A language without them gets the plain greeting with the full name.
    """

    title: PerLanguage | None = None
    salutation: PerLanguage | None = None
    family_name: FamilyName | None = None

    @model_validator(mode="after")
    def _same_languages(self) -> Addressed:
        titles, salutations = set(self.title or {}), set(self.salutation or {})
        if titles != salutations:
            missing = sorted(lang.value for lang in titles ^ salutations)
            raise ValueError(
                "title and salutation must be given for the same languages "
                f"(one is missing for {', '.join(missing)})"
            )
        return self

    def addressing(self) -> tuple[tuple[str, Any], ...]:
        """The addressing a timeline person carries (hashable; JSON-able as a dict)."""
        items: list[tuple[str, Any]] = []
        if self.title and self.salutation:
            items.append(("title", tuple(sorted((k.value, v) for k, v in self.title.items()))))
            items.append(
                ("salutation", tuple(sorted((k.value, v) for k, v in self.salutation.items())))
            )
        if self.family_name:
            items.append(("family_name", self.family_name))
        return tuple(items)


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


class Mayor(Addressed):
    name: PersonName
    email: Email
    language: Language | None = None
    substitute: Substitute | None = None
    assistant: Email | None = None  # the mayor's scheduler: copied (Cc) on the mayor's emails

    def addressing(self) -> tuple[tuple[str, Any], ...]:
        extra = (("assistant", self.assistant),) if self.assistant else ()
        return super().addressing() + extra


class TeamMember(Addressed):
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
