"""One timeline expansion in progress: its files, the time booked so far, the problems found."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from calendars.business_days import DaysOff
from calendars.days_off import owner_days_off
from calendars.slots import BusyCalendar
from models.cohort_file import Cohort
from models.enums import Policy
from models.file_loading import source_line
from models.problems import Problem, Severity, format_place
from models.program_file import Anchor, Program, SessionSeries

Slot = tuple[dt.datetime, dt.datetime]  # a session's start and end, UTC


def anchor_of(program: Program, cohort: Cohort) -> Anchor:
    """The cohort's own convening when it gives one, else the program's default."""
    return cohort.convening or program.default_anchor


@dataclass
class Expansion:
    """What every step of placing sessions reads (the files) and adds to (bookings, problems)."""

    program: Program
    cohort: Cohort
    program_file: str
    cohort_file: str
    anchor: Anchor = field(init=False)
    window: tuple[dt.date, dt.date] = field(init=False)  # the program's first and last day
    days_off: dict[str, DaysOff] = field(init=False)  # per slot owner: holidays, blackouts
    busy: BusyCalendar = field(default_factory=BusyCalendar)
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.anchor = anchor_of(self.program, self.cohort)
        self.window = (
            self.program.starts.resolve(self.anchor.date),
            self.program.ends.resolve(self.anchor.date),
        )
        self.days_off = owner_days_off(self.program, self.cohort, self.window)

    def holidays_of(self, owners: list[str]) -> frozenset[dt.date]:
        """The public holidays and blackout dates of any of `owners` (weekends not included)."""
        out: set[dt.date] = set()
        for owner in owners:
            off = self.days_off[owner]
            out.update(day for day, _ in off.holidays)
            out.update(off.blackout)
        return frozenset(out)

    def report(
        self,
        series: SessionSeries,
        place: tuple[str | int, ...],
        message: str,
        *,
        file: str | None = None,
        always_error: bool = False,
    ) -> None:
        """A placement problem: an error or a warning as the series' working-hours policy says."""
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
