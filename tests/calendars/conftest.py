"""Shared builders for calendar tests: wall-clock series per zone, three parsers, .ics fixtures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import ics
import pytest
import vobject

from calendars.ical_types import CalendarPerson, EventSnapshot, InviteAttendee

ICS_DIR = Path(__file__).resolve().parent.parent / "data" / "ics"

# 10:00 local every two weeks, 20 Aug - 26 Nov 2024: across Chile's (8 Sep), Paraguay's
# (6 Oct) and the US's (3 Nov) clock changes. The UTC hour of each session is written out
# by hand, so a wrong offset anywhere (tzdata or builder) fails the tests.
SERIES_DAYS = tuple(dt.date(2024, 8, 20) + dt.timedelta(weeks=2 * i) for i in range(8))
EXPECTED_UTC_HOURS: dict[str, tuple[int, ...]] = {
    "America/Santiago": (14, 14, 13, 13, 13, 13, 13, 13),
    "America/Asuncion": (14, 14, 14, 14, 13, 13, 13, 13),
    "America/Mexico_City": (16, 16, 16, 16, 16, 16, 16, 16),
    "America/Sao_Paulo": (13, 13, 13, 13, 13, 13, 13, 13),
    "America/New_York": (14, 14, 14, 14, 14, 14, 15, 15),
}
ZONES = tuple(EXPECTED_UTC_HOURS)
LOCAL_START = dt.time(10, 0)


@dataclass(frozen=True)
class ParsedEvent:
    """What one parser read from one VEVENT, instants converted to UTC."""

    uid: str
    starts_at: dt.datetime
    ends_at: dt.datetime


Parse = Callable[[bytes], dict[str, list[ParsedEvent]]]


def make_event(
    *,
    uid: str = "santiago.checkin-1@cda-2024.accelerator",
    sequence: int = 0,
    last_changed: dt.datetime = dt.datetime(2024, 8, 1, 12, 0, tzinfo=dt.UTC),
    starts_at: dt.datetime = dt.datetime(2024, 9, 17, 13, 0, tzinfo=dt.UTC),
    duration: dt.timedelta = dt.timedelta(hours=1),
    summary: str = "Check-in with the mayor",
    description: str = "Review the data strategy; bring the progress report.",
    location: str = "Virtual meeting room",
    url: str | None = "https://meet.example.org/cda-santiago",
    cancelled: bool = False,
    reminders: tuple[dt.timedelta, ...] = (dt.timedelta(days=1), dt.timedelta(minutes=30)),
    categories: tuple[str, ...] = (),
) -> EventSnapshot:
    return EventSnapshot(
        uid=uid,
        sequence=sequence,
        last_changed=last_changed,
        starts_at=starts_at,
        ends_at=starts_at + duration,
        summary=summary,
        description=description,
        location=location,
        url=url,
        cancelled=cancelled,
        reminders=reminders,
        categories=categories,
    )


def wall_clock_series(zone: str) -> list[EventSnapshot]:
    """The 10:00 series in `zone`, each instant built from the local wall time."""
    tz = ZoneInfo(zone)
    slug = zone.split("/")[-1].lower()
    return [
        make_event(
            uid=f"{slug}.workshop-{i}@cda-2024.accelerator",
            starts_at=dt.datetime.combine(day, LOCAL_START, tzinfo=tz).astimezone(dt.UTC),
            duration=dt.timedelta(minutes=90),
            summary=f"Workshop {i + 1}",
        )
        for i, day in enumerate(SERIES_DAYS)
    ]


def _with_icalendar(data: bytes) -> list[ParsedEvent]:
    calendar = icalendar.Calendar.from_ical(data)
    parsed = []
    for vevent in calendar.events:
        start, end = vevent.start, vevent.end
        # A date would be an all-day event; a naive value floating time, read per client.
        assert isinstance(start, dt.datetime) and isinstance(end, dt.datetime)
        assert start.tzinfo is not None and end.tzinfo is not None
        parsed.append(
            ParsedEvent(str(vevent["UID"]), start.astimezone(dt.UTC), end.astimezone(dt.UTC))
        )
    return parsed


def _with_vobject(data: bytes) -> list[ParsedEvent]:
    parsed = []
    for calendar in vobject.readComponents(data.decode("utf-8")):
        for vevent in calendar.contents.get("vevent", []):
            start, end = vevent.dtstart.value, vevent.dtend.value
            assert start.tzinfo is not None and end.tzinfo is not None
            parsed.append(
                ParsedEvent(vevent.uid.value, start.astimezone(dt.UTC), end.astimezone(dt.UTC))
            )
    return parsed


def _with_ics(data: bytes) -> list[ParsedEvent]:
    calendar = ics.Calendar(data.decode("utf-8"))
    return [
        ParsedEvent(
            event.uid,
            event.begin.datetime.astimezone(dt.UTC),
            event.end.datetime.astimezone(dt.UTC),
        )
        for event in calendar.events
    ]


def parse_with_all(data: bytes) -> dict[str, list[ParsedEvent]]:
    """Every event as read by icalendar, vobject and ics-py, sorted by (start, uid)."""
    readers = {"icalendar": _with_icalendar, "vobject": _with_vobject, "ics": _with_ics}
    return {
        name: sorted(read(data), key=lambda e: (e.starts_at, e.uid))
        for name, read in readers.items()
    }


@pytest.fixture
def parse() -> Parse:
    """Reads bytes with icalendar, vobject and ics-py."""
    return parse_with_all


@pytest.fixture
def check_instants() -> Callable[[dict[str, list[ParsedEvent]], list[EventSnapshot], str], None]:
    return assert_same_instants


@pytest.fixture(name="make_event")
def make_event_fixture() -> Callable[..., EventSnapshot]:
    return make_event


@pytest.fixture
def organizer() -> CalendarPerson:
    return CalendarPerson(email="accelerator@cda.example.org", name="CDA Accelerator, GovEx")


@pytest.fixture
def mayor() -> InviteAttendee:
    return InviteAttendee(email="alcaldesa@muni.example.cl", name="Ana Pérez", required=True)


@pytest.fixture
def advisor() -> InviteAttendee:
    return InviteAttendee(email="asesor@muni.example.cl", name="Luis Soto", required=False)


@pytest.fixture(params=ZONES)
def zone(request: pytest.FixtureRequest) -> str:
    zone_name: str = request.param
    return zone_name


@pytest.fixture
def series(zone: str) -> list[EventSnapshot]:
    """The 10:00 series in `zone`; checked against the hand-written UTC hours first."""
    events = wall_clock_series(zone)
    assert [e.starts_at.hour for e in events] == list(EXPECTED_UTC_HOURS[zone])
    return events


@pytest.fixture
def ics_fixture() -> Callable[[str], bytes]:
    return read_ics_fixture


def read_ics_fixture(name: str) -> bytes:
    """A checked-in .ics file with CRLF line endings, whatever a checkout did to them."""
    raw = (ICS_DIR / name).read_bytes()
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def assert_same_instants(
    parsed: dict[str, list[ParsedEvent]], expected: list[EventSnapshot], zone: str
) -> None:
    """Every parser read exactly the expected UTC instants, and each is 10:00 in `zone`."""
    want = [
        ParsedEvent(e.uid, e.starts_at.astimezone(dt.UTC), e.ends_at.astimezone(dt.UTC))
        for e in sorted(expected, key=lambda e: (e.starts_at, e.uid))
    ]
    for parser, events in parsed.items():
        assert events == want, f"{parser} read different instants"
        local_starts = {e.starts_at.astimezone(ZoneInfo(zone)).time() for e in events}
        assert local_starts == {LOCAL_START}, f"{parser}: not 10:00 in {zone}"
