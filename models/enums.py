"""Enumerations shared by the files, the timeline and the database."""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    EN = "en"
    ES = "es"
    PT = "pt"


class Role(StrEnum):
    """Senior-team roles suggested by the program description; `other` because each city is unique."""

    CITY_LEADER = "city_leader"
    CHIEF_OF_STAFF = "chief_of_staff"
    CHIEF_DATA_OFFICER = "chief_data_officer"
    EQUITY_ACCOUNTABILITY = "equity_accountability"
    POLICY_OUTREACH = "policy_outreach"
    COMMUNICATIONS = "communications"
    OTHER = "other"


class Audience(StrEnum):
    """Who a session or a deliverable is for."""

    MAYOR = "mayor"
    SENIOR_TEAM = "senior_team"
    COACH = "coach"
    ORGANIZER = "organizer"


class SessionKind(StrEnum):
    CONVENING = "convening"
    MASTERCLASS = "masterclass"
    WORKSHOP = "workshop"
    COACHING = "coaching"
    PRESENTATION = "presentation"
    MAYOR_CHECKIN = "mayor_checkin"


class Scope(StrEnum):
    """How many instances of a session exist: one for the cohort, one per workshop group, one per city."""

    COHORT = "cohort"
    GROUP = "group"
    CITY = "city"


class LanguageHandling(StrEnum):
    """Which language a session runs in; messages always use the recipient's own language."""

    CITY = "city"  # the city's language (coaching, check-ins, presentations)
    GROUP = "group"  # the workshop group's shared language
    INTERPRETED = "interpreted"  # English with simultaneous interpretation (cohort-wide sessions)


class Place(StrEnum):
    VENUE = "venue"  # in person, at the cohort's convening venue
    VIRTUAL = "virtual"  # the cohort's virtual meeting room


class Weekday(StrEnum):
    MO = "MO"
    TU = "TU"
    WE = "WE"
    TH = "TH"
    FR = "FR"
    SA = "SA"
    SU = "SU"

    @property
    def number(self) -> int:
        """Monday is 0, as in `datetime.weekday()`."""
        return _WEEKDAY_INDEX[self]


_WEEKDAY_INDEX = {day: n for n, day in enumerate(Weekday)}


class Policy(StrEnum):
    WARN = "warn"
    ERROR = "error"


class RecordStatus(StrEnum):
    """State of a stored session or invitation."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"
