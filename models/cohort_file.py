"""Schema of a cohort file (`cohorts/*.yaml`): the organizer, the coaches and the cities of one cohort."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, HttpUrl

from models.addresses import check_email_address
from models.enums import Language, Role, Weekday
from models.file_types import OneLine, Slug, TimeZoneName, WallTime
from models.program_file import Anchor, FileModel, WorkingHours


def _check_email(value: str) -> str:
    return check_email_address(value).lower()


Email = Annotated[str, AfterValidator(_check_email)]
PersonName = Annotated[OneLine, Field(min_length=1, max_length=120)]


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
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    timezone: TimeZoneName
    language: Language
    coach: Slug
    mayor: Mayor
    team: list[TeamMember]
    working_hours: WorkingHours | None = None
    coaching: CoachingSlot | None = None


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
