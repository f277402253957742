"""What each subscription feed shows (person, city, cohort), built from stored rows; no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from calendars.ical_types import EventSnapshot
from calendars.timeline_types import uid_for
from models.enums import Language, RecordStatus

CANCELLED = RecordStatus.CANCELLED.value
FALLBACK_LANGUAGE = Language.EN.value
COHORT_FEED_LANGUAGE = Language.EN.value

__all__ = [
    "FeedCity",
    "FeedContent",
    "FeedInvitation",
    "FeedPerson",
    "FeedSession",
    "FeedSource",
    "city_feed",
    "cohort_feed",
    "person_feed",
]


@dataclass(frozen=True)
class FeedSession:
    """The public part of a stored session: no attendees, no fingerprint, nothing private."""

    key: str
    city_id: str | None
    title: Mapping[str, str]
    description: Mapping[str, str] | None
    location: str
    meeting_url: str | None
    starts_at: dt.datetime  # UTC
    ends_at: dt.datetime  # UTC
    reminders: tuple[int, ...]  # seconds before the start
    sequence: int
    status: str
    changed_at: dt.datetime  # UTC


@dataclass(frozen=True)
class FeedInvitation:
    session_key: str
    email: str
    status: str
    sequence: int
    changed_at: dt.datetime  # UTC


@dataclass(frozen=True)
class FeedPerson:
    email: str
    name: str
    language: str
    city_id: str | None
    changed_at: dt.datetime  # UTC
    active: bool = True  # False once removed from the cohort


@dataclass(frozen=True)
class FeedCity:
    id: str
    name: str
    language: str


@dataclass(frozen=True)
class FeedSource:
    """What the session rows do not hold: the program (for UIDs and names) and the city names."""

    cohort_id: str
    program_id: str
    program_name: Mapping[str, str]
    refresh: dt.timedelta
    cities: Mapping[str, FeedCity] = field(default_factory=dict)
    changed_at: dt.datetime | None = None  # UTC; None for a source not stored (e.g. export)


@dataclass(frozen=True)
class FeedContent:
    """A feed before serialization. `last_modified` covers every item, shown or not."""

    name: str
    events: tuple[EventSnapshot, ...]
    last_modified: dt.datetime | None


def person_feed(
    source: FeedSource,
    person: FeedPerson,
    sessions: Mapping[str, FeedSession],
    invitations: Iterable[FeedInvitation],
) -> FeedContent:
    """Every session the person was ever invited to; cancelled if they were removed from it."""
    mine = {i.session_key: i for i in invitations if i.email == person.email}
    events = []
    stamps = [person.changed_at]
    for key, invitation in mine.items():
        session = sessions[key]
        # The invitation's own change counts too: a removal changes this feed, not the session.
        last_changed = max(session.changed_at, invitation.changed_at)
        stamps.append(last_changed)
        events.append(
            _snapshot(
                session,
                program_id=source.program_id,
                language=person.language,
                cancelled=session.status == CANCELLED or invitation.status == CANCELLED,
                sequence=max(session.sequence, invitation.sequence),
                last_changed=last_changed,
            )
        )
    return FeedContent(
        name=_feed_name(source, person.language, person.name),
        events=tuple(events),
        last_modified=_latest(stamps, source),
    )


def city_feed(
    source: FeedSource,
    city_id: str,
    sessions: Mapping[str, FeedSession],
    invitations: Iterable[FeedInvitation],
    people: Mapping[str, FeedPerson],
) -> FeedContent:
    """The city's own sessions plus the cohort and group sessions its people attend.

    A shared session stays in the feed (cancelled) once every one of the city's people was
    removed from it, so subscribed clients see it go rather than keep a stale copy.
    """
    city = source.cities.get(city_id)
    language = city.language if city else FALLBACK_LANGUAGE
    city_people = {email for email, p in people.items() if p.city_id == city_id}
    invited: dict[str, list[FeedInvitation]] = {}
    for invitation in invitations:
        if invitation.email in city_people:
            invited.setdefault(invitation.session_key, []).append(invitation)
    keys = {k for k, s in sessions.items() if s.city_id == city_id} | set(invited)
    events = []
    stamps = [p.changed_at for p in people.values() if p.city_id == city_id]
    for key in keys:
        session = sessions[key]
        own = session.city_id == city_id
        theirs = invited.get(key, [])
        removed = not own and all(i.status == CANCELLED for i in theirs)
        last_changed = max([session.changed_at, *(i.changed_at for i in theirs)])
        stamps.append(last_changed)
        events.append(
            _snapshot(
                session,
                program_id=source.program_id,
                language=language,
                cancelled=session.status == CANCELLED or removed,
                sequence=max([session.sequence, *(i.sequence for i in theirs)]),
                last_changed=last_changed,
            )
        )
    return FeedContent(
        name=_feed_name(source, language, city.name if city else city_id),
        events=tuple(events),
        last_modified=_latest(stamps, source),
    )


def cohort_feed(
    source: FeedSource,
    sessions: Mapping[str, FeedSession],
    *,
    language: str = COHORT_FEED_LANGUAGE,
) -> FeedContent:
    """Every session of the cohort, in one language (English unless told)."""
    events = tuple(
        _snapshot(
            session,
            program_id=source.program_id,
            language=language,
            cancelled=session.status == CANCELLED,
            sequence=session.sequence,
            last_changed=session.changed_at,
        )
        for session in sessions.values()
    )
    stamps = [s.changed_at for s in sessions.values()]
    return FeedContent(
        name=_feed_name(source, language, source.cohort_id),
        events=events,
        last_modified=_latest(stamps, source),
    )


def _snapshot(
    session: FeedSession,
    *,
    program_id: str,
    language: str,
    cancelled: bool,
    sequence: int,
    last_changed: dt.datetime,
) -> EventSnapshot:
    return EventSnapshot(
        uid=uid_for(session.key, program_id),
        sequence=sequence,
        last_changed=last_changed,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        summary=_text(session.title, language),
        description=_text(session.description or {}, language),
        location=session.location,
        url=session.meeting_url,
        cancelled=cancelled,
        reminders=tuple(dt.timedelta(seconds=s) for s in session.reminders),
    )


def _text(texts: Mapping[str, str], language: str) -> str:
    """The text in `language`, else English, else empty.

    >>> _text({"en": "Coaching", "es": "Coaching (es)"}, "pt")
    'Coaching'
    """
    return texts.get(language) or texts.get(FALLBACK_LANGUAGE) or ""


def _feed_name(source: FeedSource, language: str, subject: str) -> str:
    program = _text(source.program_name, language) or source.program_id
    return f"{program} — {subject}"


def _latest(stamps: Iterable[dt.datetime], source: FeedSource) -> dt.datetime | None:
    # The source's change counts: a renamed city or program changes the bytes of the feed.
    every = [*stamps, *([source.changed_at] if source.changed_at else [])]
    return max(every, default=None)
