"""Subscription feeds: a deterministic published calendar (no METHOD, no people) and its ETag.

Instants are written in UTC with no VTIMEZONE, for the reasons in `calendars.invitations`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable

from icalendar import Calendar, vDuration, vText

from calendars.ical_types import PRODID, EventSnapshot
from calendars.invitations import add_alarms, build_vevent

__all__ = ["PRODID", "build_feed", "feed_etag"]


def build_feed(
    events: Iterable[EventSnapshot],
    *,
    name: str,
    refresh: dt.timedelta,
    now: dt.datetime | None = None,
    prodid: str = PRODID,
) -> bytes:
    """The feed's bytes: identical input gives identical bytes, whatever the input order.

    Cancelled events stay visible as STATUS:CANCELLED until they end; with `now`, those
    that already ended are dropped. `now` is not used for anything else.
    """
    if refresh <= dt.timedelta(0):
        raise ValueError(f"feed {name!r}: refresh must be a positive duration, got {refresh}")
    if now is not None and (now.tzinfo is None or now.utcoffset() is None):
        raise ValueError(f"feed {name!r}: now must be timezone-aware, got {now}")

    shown = [event for event in events if not _is_past_cancellation(event, now)]
    duplicates = sorted(uid for uid, n in Counter(e.uid for e in shown).items() if n > 1)
    if duplicates:
        # Clients merge events by UID, and the order (so the bytes) would depend on the input.
        raise ValueError(f"feed {name!r}: duplicate UIDs {', '.join(duplicates)}")

    calendar = Calendar()
    calendar.add("PRODID", prodid)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("NAME", vText(name))
    calendar.add("X-WR-CALNAME", vText(name))
    # Some libraries drop VALUE=DURATION; clients that follow RFC 7986 strictly need it.
    calendar.add("REFRESH-INTERVAL", vDuration(refresh), parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(refresh))
    for event in sorted(shown, key=lambda event: (event.starts_at, event.uid)):
        # DTSTAMP from the last change, never the clock, so unchanged events keep their bytes.
        vevent = build_vevent(event, dtstamp=event.last_changed)
        add_alarms(vevent, event)
        calendar.add_component(vevent)
    body: bytes = calendar.to_ical()
    return body


def feed_etag(body: bytes) -> str:
    """A strong ETag for the feed's bytes, quoted as HTTP requires.

    >>> feed_etag(b"BEGIN:VCALENDAR")[:9]
    '"9daa8e24'
    """
    return f'"{hashlib.sha256(body).hexdigest()}"'


def _is_past_cancellation(event: EventSnapshot, now: dt.datetime | None) -> bool:
    return now is not None and event.cancelled and event.ends_at <= now
