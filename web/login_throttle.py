"""A limit on failed operator logins per client address, counted in this process's memory.

At most `max_failures` failed logins per client in any `window`; further attempts are refused
(HTTP 429) without checking the password until the oldest of those failures leaves the window,
and a successful login clears the client's count. The counts live in memory, in one process:
they start from zero at every restart and are not shared between processes or machines, so
run `accel web` as a single process (it does: one uvicorn worker) for the limit to hold.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import threading
from collections import deque
from collections.abc import Callable

Clock = Callable[[], dt.datetime]
MAX_CLIENTS = 10_000  # clients remembered at once: bounds memory under address spraying


def client_key(host: str) -> str:
    """The unit a limit is counted for: an IPv4 address, or an IPv6 address's /64 network.

    One IPv6 host usually holds a whole /64, so counting single IPv6 addresses would give it
    millions of fresh tries. Anything that is not an address (a hostname, or whatever a
    misconfigured proxy passed through) is kept, cut to 64 characters so it cannot grow memory.

    >>> client_key("203.0.113.7")
    '203.0.113.7'
    >>> client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9")
    True
    >>> client_key("2001:db8:1:2:aaaa::1")
    '2001:db8:1:2::/64'
    >>> client_key("::ffff:203.0.113.7")  # an IPv4 client on a dual-stack socket
    '203.0.113.7'
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class LoginThrottle:
    """Failed logins by client address; time is read from `clock` only (tests pass their own)."""

    def __init__(
        self,
        *,
        max_failures: int,
        window: dt.timedelta,
        clock: Clock,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        if max_failures < 1 or window <= dt.timedelta(0):
            raise ValueError("a login throttle needs at least one failure and a positive window")
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._max_clients = max_clients
        self._failures: dict[str, deque[dt.datetime]] = {}
        self._lock = threading.Lock()  # sync handlers run in a thread pool

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until `client` may try again, or None if it may try now."""
        now = self._clock()
        with self._lock:
            failures = self._recent(client, now)
            if len(failures) < self.max_failures:
                return None
            wait = (failures[0] + self.window - now).total_seconds()
        return max(1, math.ceil(wait))

    def start_attempt(self, client: str) -> int | None:
        """Count a login attempt as a failure, unless `client` must wait (then the seconds, and
        nothing is counted). A success is undone by `clear`; counting first means parallel
        attempts cannot all pass the check before any of them is recorded."""
        now = self._clock()
        with self._lock:
            failures = self._recent(client, now)
            if len(failures) >= self.max_failures:
                wait = (failures[0] + self.window - now).total_seconds()
                return max(1, math.ceil(wait))
            failures.append(now)
            self._failures[client] = failures
            if len(self._failures) > self._max_clients:
                self._forget_old(now)
        return None

    def clear(self, client: str) -> None:
        """Forget `client`'s failures: it just logged in."""
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str, now: dt.datetime) -> deque[dt.datetime]:
        """`client`'s failures still inside the window (the caller holds the lock)."""
        failures = self._failures.get(client) or deque(maxlen=self.max_failures)
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            self._failures.pop(client, None)
        return failures

    def _forget_old(self, now: dt.datetime) -> None:
        """Drop expired clients; if still too many, those whose last failure is oldest."""
        for client in list(self._failures):
            self._recent(client, now)
        excess = len(self._failures) - self._max_clients
        if excess > 0:
            by_age = sorted(self._failures, key=lambda c: self._failures[c][-1])
            for client in by_age[:excess]:
                del self._failures[client]
