"""Schema of a program file (`programs/*.yaml`): the accelerator's shape, independent of any year."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.enums import (
    Audience,
    LanguageHandling,
    Place,
    Policy,
    Role,
    Scope,
    SessionKind,
    Weekday,
)
from models.file_types import (
    CalendarDay,
    DayReference,
    Duration,
    LocalizedDescription,
    LocalizedText,
    OneLine,
    Slug,
    TimeZoneName,
    WallTime,
)


class FileModel(BaseModel):
    """Strict base for both files: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class WorkingHours(FileModel):
    start: WallTime = Field(default_factory=lambda: dt.time(9, 0))
    end: WallTime = Field(default_factory=lambda: dt.time(18, 0))
    days: list[Weekday] = Field(
        default_factory=lambda: [Weekday.MO, Weekday.TU, Weekday.WE, Weekday.TH, Weekday.FR],
        min_length=1,
        max_length=7,
    )

    @model_validator(mode="after")
    def _start_before_end(self) -> Self:
        if self.start >= self.end:
            raise ValueError("working hours must start before they end")
        return self


class Venue(FileModel):
    name: OneLine = Field(min_length=1, max_length=200)
    address: OneLine = Field(min_length=1, max_length=300)


class Anchor(FileModel):
    """The convening every relative day is counted from; a cohort file may give its own."""

    date: CalendarDay
    timezone: TimeZoneName
    venue: Venue


class FixedTiming(FileModel):
    """A single session at a given day and wall time (e.g. the convening)."""

    starts: DayReference
    start_time: WallTime
    ends: DayReference
    end_time: WallTime


class RecurringTiming(FileModel):
    """A series by RFC 5545 rule. Without BYDAY the engine picks a weekday from `weekdays`."""

    rule: str = Field(min_length=5, max_length=200, examples=["FREQ=WEEKLY;INTERVAL=2;COUNT=11"])
    starts: DayReference
    times: list[WallTime] = Field(min_length=1, max_length=24)
    weekdays: list[Weekday] = Field(default_factory=list, max_length=7)


class WindowTiming(FileModel):
    """One session per city or group, placed by the engine in the first free slot of a window."""

    starts: DayReference
    days: int = Field(ge=1, le=60)
    times: list[WallTime] = Field(min_length=1, max_length=24)


class WorkshopGrouping(FileModel):
    by: str = Field(default="language", pattern="^language$")
    max_cities: int = Field(default=8, ge=1, le=100)


class Topic(FileModel):
    """One occurrence's own subject: its title (after the series title), speaker, what to prepare."""

    title: LocalizedText
    speaker: Annotated[OneLine, Field(min_length=1, max_length=120)] | None = None
    prepare: LocalizedText | None = None


class SessionSeries(FileModel):
    id: Slug
    kind: SessionKind
    scope: Scope
    title: LocalizedText
    description: LocalizedDescription | None = None
    audience: list[Audience] = Field(min_length=1)
    required: list[Audience] = Field(default_factory=list)
    substitutes: bool = True
    place: Place = Place.VIRTUAL
    language: LanguageHandling = LanguageHandling.CITY
    duration: Duration | None = None
    reminders: list[Duration] = Field(default_factory=list, max_length=5)
    at: FixedTiming | None = None
    recurrence: RecurringTiming | None = None
    window: WindowTiming | None = None
    grouping: WorkshopGrouping | None = None
    decision_point: Slug | None = None
    working_hours: Policy | None = None
    invite_before: Duration | None = None  # default: the program's invitation_lead
    # One per occurrence, in order; occurrences beyond the list keep the series title alone.
    topics: list[Topic] = Field(default_factory=list, max_length=60)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        timings = [t for t in (self.at, self.recurrence, self.window) if t is not None]
        if len(timings) != 1:
            raise ValueError("give exactly one of at, recurrence or window")
        if self.at is None and self.duration is None:
            raise ValueError("a recurring or windowed session needs a duration")
        if self.scope is Scope.GROUP and self.grouping is None:
            raise ValueError("a group session needs grouping (e.g. {by: language})")
        if self.window is not None and self.scope is Scope.COHORT:
            raise ValueError("a window places one session per city or group, not per cohort")
        for who in self.required:
            if who not in self.audience:
                raise ValueError(f"required {who} is not in the audience")
        if self.language is LanguageHandling.CITY and self.scope is not Scope.CITY:
            raise ValueError("language: city only fits a per-city session")
        return self


class Escalation(FileModel):
    """How long after a missed deadline each notice goes out."""

    team_overdue: Duration = Field(default_factory=lambda: dt.timedelta(days=1))
    coach: Duration = Field(default_factory=lambda: dt.timedelta(days=4))
    mayor: Duration = Field(default_factory=lambda: dt.timedelta(days=8))

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.team_overdue < self.coach < self.mayor:
            raise ValueError("escalation must go team_overdue < coach < mayor")
        return self


class Deliverable(FileModel):
    id: Slug
    title: LocalizedText
    description: LocalizedDescription | None = None
    due: DayReference
    owners: list[Audience | Role] = Field(min_length=1)
    reminders: list[Duration] = Field(default_factory=list, max_length=5)


class DecisionPoint(FileModel):
    id: Slug
    title: LocalizedText
    decide: LocalizedDescription
    notify_before: Duration
    deliverables: list[Slug] = Field(default_factory=list)


class DeadlineOnHoliday(StrEnum):
    KEEP = "keep"
    PREVIOUS_BUSINESS_DAY = "previous_business_day"


class Program(FileModel):
    id: Slug = Field(alias="program")
    name: LocalizedText
    timezone: TimeZoneName
    starts: DayReference
    ends: DayReference
    default_anchor: Anchor
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    working_hours_policy: Policy = Policy.WARN
    deliverable_due_time: WallTime = Field(default_factory=lambda: dt.time(17, 0))
    quiet_hours: tuple[WallTime, WallTime] = Field(
        default_factory=lambda: (dt.time(22, 0), dt.time(7, 0))
    )
    feed_refresh: Duration = Field(default_factory=lambda: dt.timedelta(hours=1))
    # Invitations go out this long before each session (mayor check-ins: with their decision
    # point's email), so nobody gets thirty invitations on the first day.
    invitation_lead: Duration = Field(default_factory=lambda: dt.timedelta(days=21))
    escalation: Escalation = Field(default_factory=Escalation)
    # A fixed session or a deadline on a weekend or public holiday: a warning, or an error.
    holiday_policy: Policy = Policy.WARN
    deadline_on_holiday: DeadlineOnHoliday = DeadlineOnHoliday.KEEP
    # Days nobody is scheduled (e.g. a GovEx retreat), on top of each country's holidays.
    blackout_dates: list[CalendarDay] = Field(default_factory=list, max_length=100)
    # Bounded so a runaway file cannot make expansion take minutes (the seed has 9, 6 and 3).
    sessions: list[SessionSeries] = Field(min_length=1, max_length=50)
    deliverables: list[Deliverable] = Field(default_factory=list, max_length=50)
    decision_points: list[DecisionPoint] = Field(default_factory=list, max_length=20)

    model_config = ConfigDict(populate_by_name=True)

    def session(self, series_id: str) -> SessionSeries:
        return next(s for s in self.sessions if s.id == series_id)

    @property
    def convening(self) -> SessionSeries | None:
        return next((s for s in self.sessions if s.kind is SessionKind.CONVENING), None)
