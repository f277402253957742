"""In-memory cache of built feeds, keyed by subject and checked against the rows' data version."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from accel.feed_store import BuiltFeed


class FeedCache:
    """Least-recently-used feeds, one entry per subject; safe to share between request threads.

    An entry is reused while the subject's data version is unchanged and no cancelled event
    in it has ended (then `now` would drop that event, so the bytes would differ).
    It is asked only after the request's token was found live in the database, so a revoked
    token (rotated, or its person or city removed by an apply) is never served from here.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self._entries: OrderedDict[Hashable, tuple[Hashable, BuiltFeed]] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}
        self.builds = 0  # how many feeds were built: lets tests prove reuse

    def get_or_build(
        self,
        key: Hashable,
        version: Hashable,
        now: dt.datetime,
        build: Callable[[], BuiltFeed | None],
    ) -> BuiltFeed | None:
        feed = self._fresh(key, version, now)
        if feed is not None:
            return feed
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        # One build per subject at a time: a burst of requests after a change builds once.
        with building:
            feed = self._fresh(key, version, now)
            if feed is not None:
                return feed
            feed = build()
            if feed is None:
                return None
            with self._lock:
                self.builds += 1
                self._entries[key] = (version, feed)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max_entries:
                    evicted, _ = self._entries.popitem(last=False)
                    self._building.pop(evicted, None)
            return feed

    def _fresh(self, key: Hashable, version: Hashable, now: dt.datetime) -> BuiltFeed | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                return None
            feed = entry[1]
            if feed.valid_until is not None and now >= feed.valid_until:
                return None
            self._entries.move_to_end(key)
            return feed
