"""Subscription feeds: no people, deterministic bytes, refresh hints, cancelled sessions."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import icalendar
import ics
import pytest

from calendars.feeds import build_feed, feed_etag
from calendars.ical_types import EventSnapshot

MakeEvent = Callable[..., EventSnapshot]
HOUR = dt.timedelta(hours=1)
NAME = "CDA Accelerator 2024 · Santiago"


@pytest.fixture
def mixed_events(make_event: MakeEvent) -> list[EventSnapshot]:
    """Sessions with ties on start, a cancelled one and categories, in no particular order."""
    start = dt.datetime(2024, 9, 17, 13, 0, tzinfo=dt.UTC)
    return [
        make_event(uid="c@cda", starts_at=start + dt.timedelta(days=7), sequence=3),
        make_event(uid="b@cda", starts_at=start, categories=("Taller",)),
        make_event(uid="a@cda", starts_at=start, reminders=()),
        make_event(uid="d@cda", starts_at=start - dt.timedelta(days=7), cancelled=True),
        make_event(uid="e@cda", starts_at=start + dt.timedelta(days=14), summary="Cierre; fin"),
    ]


def test_every_parser_reads_the_same_utc_instants(
    zone: str,
    series: list[EventSnapshot],
    parse: Callable[[bytes], dict[str, list[Any]]],
    check_instants: Callable[..., None],
) -> None:
    data = build_feed(series, name=NAME, refresh=HOUR)
    assert b"VTIMEZONE" not in data
    assert b"TZID" not in data
    check_instants(parse(data), series, zone)


def test_no_method_and_no_people(mixed_events: list[EventSnapshot]) -> None:
    data = build_feed(mixed_events, name=NAME, refresh=HOUR)
    for word in (b"METHOD", b"ATTENDEE", b"ORGANIZER", b"mailto:", b"RSVP"):
        assert word not in data
    # The only '@' in a feed belongs to UIDs, never to an address.
    lines_with_at = [line for line in data.split(b"\r\n") if b"@" in line]
    assert lines_with_at and all(line.startswith(b"UID:") for line in lines_with_at)
    calendar = icalendar.Calendar.from_ical(data)
    assert "METHOD" not in calendar
    assert all("ORGANIZER" not in e and "ATTENDEE" not in e for e in calendar.walk("VEVENT"))


def test_same_input_gives_the_same_bytes_in_any_order(mixed_events: list[EventSnapshot]) -> None:
    first = build_feed(mixed_events, name=NAME, refresh=HOUR)
    assert build_feed(mixed_events, name=NAME, refresh=HOUR) == first
    assert build_feed(reversed(mixed_events), name=NAME, refresh=HOUR) == first
    for seed in range(5):
        shuffled = list(mixed_events)
        random.Random(seed).shuffle(shuffled)
        assert build_feed(iter(shuffled), name=NAME, refresh=HOUR) == first
    assert feed_etag(build_feed(shuffled, name=NAME, refresh=HOUR)) == feed_etag(first)


def test_events_sorted_by_start_then_uid(mixed_events: list[EventSnapshot]) -> None:
    data = build_feed(mixed_events, name=NAME, refresh=HOUR)
    uids = [str(e["UID"]) for e in icalendar.Calendar.from_ical(data).walk("VEVENT")]
    assert uids == ["d@cda", "a@cda", "b@cda", "c@cda", "e@cda"]


def test_name_and_refresh_hints(mixed_events: list[EventSnapshot]) -> None:
    data = build_feed(mixed_events, name=NAME, refresh=HOUR)
    lines = data.split(b"\r\n")
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines
    assert b"X-PUBLISHED-TTL:PT1H" in lines
    calendar = icalendar.Calendar.from_ical(data)
    assert calendar.calendar_name == NAME
    assert str(calendar["X-WR-CALNAME"]) == NAME
    assert calendar.refresh_interval == HOUR
    assert calendar["VERSION"] == "2.0"

    daily = build_feed(mixed_events, name=NAME, refresh=dt.timedelta(hours=6))
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT6H\r\n" in daily
    assert b"X-PUBLISHED-TTL:PT6H\r\n" in daily


def test_each_event_keeps_its_own_stamp_sequence_status_and_alarms(
    mixed_events: list[EventSnapshot],
) -> None:
    data = build_feed(mixed_events, name=NAME, refresh=HOUR)
    by_uid: dict[str, Any] = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(data).events}
    for event in mixed_events:
        vevent = by_uid[event.uid]
        assert vevent.stamp == event.last_changed
        assert vevent["SEQUENCE"] == event.sequence
        assert vevent["STATUS"] == ("CANCELLED" if event.cancelled else "CONFIRMED")
        assert [a["TRIGGER"].dt for a in vevent.walk("VALARM")] == [-r for r in event.reminders]
    assert list(by_uid["b@cda"].categories) == ["Taller"]
    assert "CATEGORIES" not in by_uid["a@cda"]  # not an empty "CATEGORIES:" line
    # ics-py reads the same statuses.
    statuses = {e.uid: e.status for e in ics.Calendar(data.decode("utf-8")).events}
    assert statuses["d@cda"] == "CANCELLED"
    assert statuses["a@cda"] == "CONFIRMED"


def test_unchanged_events_keep_their_bytes_when_another_changes(
    make_event: MakeEvent, mixed_events: list[EventSnapshot]
) -> None:
    before = build_feed(mixed_events, name=NAME, refresh=HOUR)
    changed = [
        make_event(
            uid="c@cda",
            starts_at=e.starts_at + HOUR,
            sequence=4,
            last_changed=dt.datetime(2024, 8, 20, 9, 0, tzinfo=dt.UTC),
        )
        if e.uid == "c@cda"
        else e
        for e in mixed_events
    ]
    after = build_feed(changed, name=NAME, refresh=HOUR)
    assert after != before
    assert feed_etag(after) != feed_etag(before)

    def vevent_bytes(data: bytes) -> dict[str, bytes]:
        calendar = icalendar.Calendar.from_ical(data)
        return {str(e["UID"]): e.to_ical() for e in calendar.walk("VEVENT")}

    old, new = vevent_bytes(before), vevent_bytes(after)
    assert {uid for uid in old if old[uid] != new[uid]} == {"c@cda"}
    assert b"DTSTAMP:20240820T090000Z" in new["c@cda"]


@pytest.mark.parametrize(
    ("now", "shown"),
    [
        (None, True),  # without a clock, nothing is dropped
        (dt.datetime(2024, 9, 10, 13, 30, tzinfo=dt.UTC), True),  # during the session
        (dt.datetime(2024, 9, 10, 14, 0, tzinfo=dt.UTC), False),  # the moment it ends
        (dt.datetime(2024, 12, 1, tzinfo=dt.UTC), False),
    ],
)
def test_cancelled_events_shown_until_they_are_past(
    now: dt.datetime | None, shown: bool, mixed_events: list[EventSnapshot]
) -> None:
    cancelled = next(e for e in mixed_events if e.cancelled)
    assert cancelled.ends_at == dt.datetime(2024, 9, 10, 14, 0, tzinfo=dt.UTC)
    data = build_feed(mixed_events, name=NAME, refresh=HOUR, now=now)
    uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(data).walk("VEVENT")}
    assert ("d@cda" in uids) is shown
    # Sessions that took place stay in the feed whatever `now` is.
    assert {"a@cda", "b@cda", "c@cda", "e@cda"} <= uids


def test_cancelled_future_event_is_shown_as_cancelled(make_event: MakeEvent) -> None:
    event = make_event(uid="x@cda", cancelled=True)
    now = event.starts_at - dt.timedelta(days=2)
    data = build_feed([event], name=NAME, refresh=HOUR, now=now)
    assert b"STATUS:CANCELLED\r\n" in data
    assert b"UID:x@cda\r\n" in data


def test_refuses_duplicate_uids_and_bad_arguments(make_event: MakeEvent) -> None:
    twice = [make_event(uid="x@cda"), make_event(uid="x@cda", summary="Other")]
    with pytest.raises(ValueError, match="duplicate UIDs x@cda"):
        build_feed(twice, name=NAME, refresh=HOUR)
    with pytest.raises(ValueError, match="positive duration"):
        build_feed([], name=NAME, refresh=dt.timedelta(0))
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        build_feed([], name=NAME, refresh=HOUR, now=dt.datetime(2024, 9, 1))


def test_etag_is_strong_quoted_and_follows_the_bytes() -> None:
    etag = feed_etag(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    assert etag.startswith('"') and etag.endswith('"')
    assert not etag.startswith("W/")
    assert len(etag) == 66  # sha256 in hex, quoted
    assert etag == feed_etag(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    assert etag != feed_etag(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n ")


def test_matches_checked_in_fixture(
    mixed_events: list[EventSnapshot],
    ics_fixture: Callable[[str], bytes],
    parse: Callable[[bytes], dict[str, list[Any]]],
) -> None:
    now = dt.datetime(2024, 9, 1, tzinfo=dt.UTC)
    data = build_feed(mixed_events, name=NAME, refresh=HOUR, now=now)
    expected = ics_fixture("feed_santiago.ics")
    assert data == expected
    for parser, events in parse(expected).items():
        assert [e.uid for e in events] == ["d@cda", "a@cda", "b@cda", "c@cda", "e@cda"], parser
