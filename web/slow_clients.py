"""Slow clients cannot hold `accel web`: a deadline to send each request, and a connection cap.

uvicorn's h11 protocol has no header-read timeout: a client that sends half a request line
keeps its connection (and a file descriptor) forever, and its keep-alive timer is cancelled
by the first byte of a next request. `BoundedH11Protocol` adds both bounds to it:

- a request (line, headers and body) must arrive whole within `request_timeout` seconds of
  the connection opening or the previous response ending, else the connection is closed;
- at most `max_connections` are open: a new connection beyond that closes the one that has
  been waiting longest for its request (never one whose request is being answered), so a
  flood of slow connections costs the attacker their oldest ones, not the server its
  descriptors. The cap and the listen backlog follow the process's file limit, so accepting
  never reaches "Too many open files" (whose asyncio error loop logged thousands of lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT_SECONDS = 10.0  # nginx's client_header_timeout is 60 s; our requests are tiny
MAX_CONNECTIONS = 1000
MAX_BACKLOG = 2048  # uvicorn's default listen queue: a burst of clients waits in the kernel
UNLIMITED_AS = 65_536  # descriptors assumed for an unlimited RLIMIT_NOFILE
RESERVED_DESCRIPTORS = 64  # database files, log files, pipes, the listening socket, threads
# Between `accept` and `connection_made`, and between `close` and the descriptor's release,
# asyncio holds up to a backlog's worth of sockets each: room is kept for three of them.
BACKLOG_SHARE = 3
# h11 states in which the client still owes us (part of) a request.
_RECEIVING = (h11.IDLE, h11.SEND_BODY)


@dataclass(frozen=True)
class SlowClientLimits:
    request_timeout: float = REQUEST_TIMEOUT_SECONDS
    max_connections: int = MAX_CONNECTIONS
    backlog: int = MAX_BACKLOG  # the listen queue, and how many asyncio accepts at once

    @classmethod
    def for_file_limit(cls, soft_limit: int) -> SlowClientLimits:
        """Limits that fit in `soft_limit` descriptors (RLIMIT_NOFILE).

        >>> SlowClientLimits.for_file_limit(256)
        SlowClientLimits(request_timeout=10.0, max_connections=96, backlog=32)
        >>> SlowClientLimits.for_file_limit(1024)
        SlowClientLimits(request_timeout=10.0, max_connections=576, backlog=128)
        >>> SlowClientLimits.for_file_limit(1_048_576)
        SlowClientLimits(request_timeout=10.0, max_connections=1000, backlog=2048)
        """
        backlog = max(16, min(MAX_BACKLOG, soft_limit // 8))
        room = soft_limit - RESERVED_DESCRIPTORS - BACKLOG_SHARE * backlog
        return cls(max_connections=max(16, min(MAX_CONNECTIONS, room)), backlog=backlog)

    @classmethod
    def for_this_process(cls) -> SlowClientLimits:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        return cls.for_file_limit(UNLIMITED_AS if soft == resource.RLIM_INFINITY else soft)


def raise_file_limit() -> None:
    """Lift the soft descriptor limit to the hard one (often 1024 and 524288): more room for
    connections, as servers usually do. A hard limit that is low stays a low limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = UNLIMITED_AS if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        # Refused here (a container's policy): the limits then follow the soft limit we have.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline per request and a cap on open connections."""

    limits: ClassVar[SlowClientLimits] = SlowClientLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self.waiting_since: float | None = None  # when it started owing a request, if it does

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._follow_request()
        self._make_room()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_request()  # a kept-alive connection owes the next request in time

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _follow_request(self) -> None:
        """Arm the deadline while a request is owed (not re-armed by each byte); stop it after."""
        if self.transport.is_closing() or self.conn.their_state not in _RECEIVING:
            self._stop_waiting()
        elif self._deadline is None:
            self.waiting_since = self.loop.time()
            self._deadline = self.loop.call_later(self.limits.request_timeout, self._too_slow)

    def _stop_waiting(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self.waiting_since = None, None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> None:
        """Beyond the cap, close the connection that has waited longest for its request."""
        if len(self.connections) <= self.limits.max_connections:
            return
        waiting = [
            c
            for c in self.connections
            if isinstance(c, BoundedH11Protocol) and c.waiting_since is not None
        ]
        oldest = min(waiting, key=lambda c: c.waiting_since or 0.0, default=self)
        oldest._stop_waiting()
        oldest.transport.close()


def bounded_protocol(limits: SlowClientLimits) -> type[BoundedH11Protocol]:
    """The protocol class to give uvicorn (`http=`), bound to `limits`."""

    class Bounded(BoundedH11Protocol):
        pass

    Bounded.limits = limits
    return Bounded
