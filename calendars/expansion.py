"""One timeline expansion in progress: its files, the time booked so far, the problems found."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

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
    busy: BusyCalendar = field(default_factory=BusyCalendar)
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.anchor = anchor_of(self.program, self.cohort)
        self.window = (
            self.program.starts.resolve(self.anchor.date),
            self.program.ends.resolve(self.anchor.date),
        )

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
