"""Feed content from stored rows: who sees what, cancellations, languages, stable bytes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import icalendar

from calendars.feed_content import (
    FeedCity,
    FeedContent,
    FeedInvitation,
    FeedPerson,
    FeedSession,
    FeedSource,
    city_feed,
    cohort_feed,
    person_feed,
)
from calendars.feeds import build_feed

APPLIED = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
LATER = dt.datetime(2024, 8, 20, 15, 30, tzinfo=dt.UTC)
SOURCE = FeedSource(
    cohort_id="cda-2024",
    program_id="cda-accelerator",
    program_name={"en": "City Data Alliance Accelerator", "es": "Acelerador City Data Alliance"},
    refresh=dt.timedelta(hours=1),
    cities={
        "santiago": FeedCity("santiago", "Santiago", "es"),
        "asuncion": FeedCity("asuncion", "Asunción", "es"),
    },
    changed_at=APPLIED,
)
TOMAS = FeedPerson("t.herrera@santiago.example.org", "Tomás Herrera", "es", "santiago", APPLIED)
LUCIA = FeedPerson("l.gimenez@asuncion.example.org", "Lucía Giménez", "es", "asuncion", APPLIED)
ANA = FeedPerson("ana@govex.example.org", "Ana Torres", "en", None, APPLIED)
PEOPLE = {p.email: p for p in (TOMAS, LUCIA, ANA)}


def _session(key: str, day: int, *, city_id: str | None = None, **changes: Any) -> FeedSession:
    values: dict[str, Any] = {
        "key": key,
        "city_id": city_id,
        "title": {"en": f"Title {key}", "es": f"Título {key}"},
        "description": {"en": "English only"},
        "location": "https://meet.example.org/x",
        "meeting_url": "https://meet.example.org/x",
        "starts_at": dt.datetime(2024, 9, day, 14, 0, tzinfo=dt.UTC),
        "ends_at": dt.datetime(2024, 9, day, 15, 0, tzinfo=dt.UTC),
        "reminders": (86400, 600),
        "sequence": 0,
        "status": "scheduled",
        "changed_at": APPLIED,
    }
    return FeedSession(**(values | changes))


SESSIONS = {
    s.key: s
    for s in (
        _session("cda-2024/masterclass/01", 3),
        _session("cda-2024/coaching/santiago/01", 4, city_id="santiago"),
        _session("cda-2024/coaching/asuncion/01", 5, city_id="asuncion"),
        _session(
            "cda-2024/checkin/santiago", 6, city_id="santiago", status="cancelled", sequence=2
        ),
    )
}


def _invite(key: str, person: FeedPerson, **changes: Any) -> FeedInvitation:
    values: dict[str, Any] = {
        "session_key": key,
        "email": person.email,
        "status": "scheduled",
        "sequence": 0,
        "changed_at": APPLIED,
    }
    return FeedInvitation(**(values | changes))


INVITATIONS = [
    _invite("cda-2024/masterclass/01", TOMAS),
    _invite("cda-2024/masterclass/01", LUCIA),
    _invite("cda-2024/masterclass/01", ANA),
    _invite("cda-2024/coaching/santiago/01", TOMAS),
    _invite("cda-2024/coaching/santiago/01", ANA),
    _invite("cda-2024/coaching/asuncion/01", LUCIA),
    _invite("cda-2024/checkin/santiago", TOMAS, sequence=2),
]


def _events(content: FeedContent) -> dict[str, icalendar.Event]:
    data = build_feed(content.events, name=content.name, refresh=SOURCE.refresh)
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(data).events}


def test_person_feed_has_their_sessions_in_their_language() -> None:
    events = _events(person_feed(SOURCE, TOMAS, SESSIONS, INVITATIONS))
    assert set(events) == {
        "cda-2024.masterclass.01@cda-accelerator.accelerator",
        "cda-2024.coaching.santiago.01@cda-accelerator.accelerator",
        "cda-2024.checkin.santiago@cda-accelerator.accelerator",
    }
    masterclass = events["cda-2024.masterclass.01@cda-accelerator.accelerator"]
    assert str(masterclass["SUMMARY"]) == "Título cda-2024/masterclass/01"
    # No Spanish description: English, not an empty text.
    assert str(masterclass["DESCRIPTION"]) == "English only"
    assert str(masterclass["URL"]) == "https://meet.example.org/x"
    triggers = sorted(
        a.TRIGGER
        for a in masterclass.subcomponents
        if isinstance(a, icalendar.Alarm) and isinstance(a.TRIGGER, dt.timedelta)
    )
    assert triggers == [-dt.timedelta(days=1), -dt.timedelta(minutes=10)]
    cancelled = events["cda-2024.checkin.santiago@cda-accelerator.accelerator"]
    assert (str(cancelled["STATUS"]), cancelled["SEQUENCE"]) == ("CANCELLED", 2)


def test_removed_person_sees_their_sessions_cancelled() -> None:
    removed = [
        _invite(i.session_key, TOMAS, status="cancelled", sequence=1, changed_at=LATER)
        if i.email == TOMAS.email and "coaching" in i.session_key
        else i
        for i in INVITATIONS
    ]
    content = person_feed(SOURCE, TOMAS, SESSIONS, removed)
    coaching = _events(content)["cda-2024.coaching.santiago.01@cda-accelerator.accelerator"]
    assert str(coaching["STATUS"]) == "CANCELLED"
    # Above what the invitation carried, and stamped when the removal happened.
    assert coaching["SEQUENCE"] == 1
    assert coaching.DTSTAMP == LATER
    assert content.last_modified == LATER
    # Ana still attends the same session: for her it is confirmed.
    ana = _events(person_feed(SOURCE, ANA, SESSIONS, removed))
    assert str(ana["cda-2024.coaching.santiago.01@cda-accelerator.accelerator"]["STATUS"]) == (
        "CONFIRMED"
    )


def test_city_feed_has_own_and_shared_sessions_but_no_other_city() -> None:
    content = city_feed(SOURCE, "santiago", SESSIONS, INVITATIONS, PEOPLE)
    assert content.name == "Acelerador City Data Alliance — Santiago"
    uids = set(_events(content))
    assert uids == {
        "cda-2024.masterclass.01@cda-accelerator.accelerator",
        "cda-2024.coaching.santiago.01@cda-accelerator.accelerator",
        "cda-2024.checkin.santiago@cda-accelerator.accelerator",
    }
    assert not [uid for uid in uids if "asuncion" in uid]


def test_cohort_feed_has_everything_in_english() -> None:
    content = cohort_feed(SOURCE, SESSIONS)
    events = _events(content)
    assert len(events) == len(SESSIONS)
    assert content.name == "City Data Alliance Accelerator — cda-2024"
    assert {str(e["SUMMARY"]) for e in events.values()} == {f"Title {k}" for k in SESSIONS}


def test_no_method_no_people_no_addresses() -> None:
    for content in (
        person_feed(SOURCE, TOMAS, SESSIONS, INVITATIONS),
        city_feed(SOURCE, "santiago", SESSIONS, INVITATIONS, PEOPLE),
        cohort_feed(SOURCE, SESSIONS),
    ):
        data = build_feed(content.events, name=content.name, refresh=SOURCE.refresh)
        for word in (b"METHOD", b"ATTENDEE", b"ORGANIZER", b"mailto:"):
            assert word not in data
        for person in PEOPLE.values():
            assert person.email.encode() not in data


def test_same_rows_give_identical_bytes_stamped_from_changes_not_now() -> None:
    def render(invitations: list[FeedInvitation]) -> bytes:
        content = person_feed(SOURCE, TOMAS, dict(reversed(SESSIONS.items())), invitations)
        return build_feed(content.events, name=content.name, refresh=SOURCE.refresh, now=LATER)

    first = render(INVITATIONS)
    assert render(INVITATIONS) == first
    assert render(list(reversed(INVITATIONS))) == first
    stamps = {line for line in first.split(b"\r\n") if line.startswith(b"DTSTAMP")}
    assert stamps == {b"DTSTAMP:20240501T000000Z"}


def test_last_modified_counts_the_source_and_people() -> None:
    renamed = FeedSource(**(SOURCE.__dict__ | {"changed_at": LATER}))
    assert person_feed(renamed, TOMAS, SESSIONS, INVITATIONS).last_modified == LATER
    moved = FeedPerson(TOMAS.email, "Tomás H.", "es", "santiago", LATER)
    assert person_feed(SOURCE, moved, SESSIONS, INVITATIONS).last_modified == LATER
    assert person_feed(SOURCE, TOMAS, SESSIONS, INVITATIONS).last_modified == APPLIED
