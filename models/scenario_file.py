"""Schema of a scenario file: operator actions at simulated times, for `accel simulate`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, HttpUrl, model_validator

from models.file_types import Duration, Slug
from models.program_file import FileModel

SessionPattern = Annotated[
    str, Field(min_length=3, max_length=200, pattern=r"^[a-z0-9*?/\-\[\]]+$")
]


class MoveSession(FileModel):
    at: AwareDatetime
    action: Literal["move_session"]
    session: SessionPattern
    to: AwareDatetime | None = None
    shift: Duration | None = None
    earlier: bool = False  # move earlier by `shift` instead of later

    @model_validator(mode="after")
    def _one_target(self) -> MoveSession:
        if (self.to is None) == (self.shift is None):
            raise ValueError("give exactly one of `to` (a new start) or `shift` (e.g. PT2H)")
        return self


class CancelSession(FileModel):
    at: AwareDatetime
    action: Literal["cancel_session"]
    session: SessionPattern


class SubmitDeliverable(FileModel):
    at: AwareDatetime
    action: Literal["submit_deliverable"]
    city: Slug
    deliverable: Slug
    link: HttpUrl | None = None


class ApplyCohort(FileModel):
    """Switch to another version of the cohort file (e.g. a team member replaced)."""

    at: AwareDatetime
    action: Literal["apply_cohort"]
    cohort: str = Field(min_length=1, max_length=300)


ScenarioEvent = Annotated[
    MoveSession | CancelSession | SubmitDeliverable | ApplyCohort, Field(discriminator="action")
]


class Scenario(FileModel):
    events: list[ScenarioEvent] = Field(default_factory=list, max_length=1000)

    def sorted_events(self) -> list[ScenarioEvent]:
        return sorted(self.events, key=lambda e: e.at.astimezone(dt.UTC))
