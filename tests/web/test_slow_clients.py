"""Slow clients against the direct server: deadlines, the connection cap, a low file limit, logs."""

from __future__ import annotations

import doctest
import io
import itertools
import logging
import select
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.web.web_process import accel_web, get_once, half_requests, open_once_settled
from web import slow_clients
from web.app import create_app
from web.log_limits import RepeatedRecordLimit
from web.slow_clients import SlowClientLimits
from web.thread_server import serving

SLOW_CLIENTS = 300  # the review's attack: 300 connections sending half a request head


def _host_port(url: str) -> tuple[str, int]:
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    return host, int(port)


def _closed_after(connection: socket.socket, *, within: float) -> float:
    """Seconds until the server closes `connection` (EOF or reset), at most `within`."""
    started = time.monotonic()
    connection.settimeout(within)
    try:
        while connection.recv(1024):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


@pytest.fixture
def quick_server(sqlite_engine: sa.Engine) -> Iterator[str]:
    """The app with a 1-second request deadline and room for 50 connections."""
    limits = SlowClientLimits(request_timeout=1.0, max_connections=50)
    with serving(create_app(engine=sqlite_engine, access_log=False), limits=limits) as url:
        yield url


def _trickle_until_closed(connection: socket.socket, *, every: float, limit: float) -> float:
    """Send a request head one byte each `every` seconds; seconds until the server closes."""
    started = time.monotonic()
    head = itertools.chain(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", itertools.repeat(98))
    while (elapsed := time.monotonic() - started) < limit:
        readable, _, _ = select.select([connection], [], [], every)
        try:
            if readable and not connection.recv(1024):
                return elapsed
            connection.send(bytes([next(head)]))
        except OSError:
            return elapsed
    return limit


def test_a_half_sent_request_is_closed_at_its_deadline_even_if_it_trickles(
    quick_server: str,
) -> None:
    host, port = _host_port(quick_server)
    with socket.create_connection((host, port), timeout=10) as silent:
        silent.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert 0.9 < _closed_after(silent, within=5) < 3
    with socket.create_connection((host, port), timeout=10) as trickling:
        # Each byte would restart a per-read timeout; the deadline is for the whole request.
        assert 0.9 < _trickle_until_closed(trickling, every=0.05, limit=5) < 3


def test_a_kept_alive_connection_must_send_its_next_request_in_time(quick_server: str) -> None:
    host, port = _host_port(quick_server)
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 200 ")
        # One byte of a next request used to cancel uvicorn's keep-alive timer for good.
        connection.sendall(b"G")
        assert _closed_after(connection, within=5) < 3


def test_three_hundred_slow_connections_neither_stop_healthz_nor_pass_the_cap(
    quick_server: str,
) -> None:
    host, port = _host_port(quick_server)
    held = half_requests(host, port, SLOW_CLIENTS)
    try:
        started = time.monotonic()
        answer = get_once(host, port, "/healthz", timeout=5)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"ok\n")
        assert time.monotonic() - started < 2
        assert open_once_settled(held, at_most=50) <= 50  # the oldest were closed for room
    finally:
        for connection in held:
            connection.close()


def test_with_a_low_file_limit_healthz_answers_and_the_log_stays_short(tmp_path: Path) -> None:
    """The review's failure: `ulimit -n 256` and 300 half requests gave no /healthz and
    hundreds of thousands of "Too many open files" tracebacks."""
    with accel_web(tmp_path, file_limit=256) as web:
        held = half_requests("127.0.0.1", web.port, SLOW_CLIENTS)
        try:
            started = time.monotonic()
            for _ in range(5):
                answer = get_once("127.0.0.1", web.port, "/healthz", timeout=5)
                assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
            assert time.monotonic() - started < 5
            limits = SlowClientLimits.for_file_limit(256)
            assert open_once_settled(held, at_most=limits.max_connections) <= limits.max_connections
        finally:
            for connection in held:
                connection.close()
        log = web.log_text()
    assert "Too many open files" not in log
    assert "Traceback" not in log
    assert len(log.splitlines()) < 30, log[-2000:]


def test_identical_warnings_are_limited_per_minute_then_counted() -> None:
    now = [0.0]
    written = io.StringIO()
    logger = logging.getLogger("accel.test.log_limits")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler(written)
    logger.addHandler(handler)
    limit = RepeatedRecordLimit(max_per_window=10, window=60, clock=lambda: now[0])
    logger.addFilter(limit)
    try:
        for _ in range(100_000):
            logger.error("socket.accept() out of system resource")
        logger.warning("another message")
        logger.info("info is never limited")
        logger.info("info is never limited")
        now[0] = 60.0
        logger.error("socket.accept() out of system resource")
    finally:
        logger.removeFilter(limit)
        logger.removeHandler(handler)
    lines = written.getvalue().splitlines()
    same = "socket.accept() out of system resource"
    assert lines[:9] == [same] * 9
    assert lines[9] == f"{same} (more like this are suppressed for a while)"
    assert lines[10:] == [
        "another message",
        "info is never limited",
        "info is never limited",
        f"suppressed 99990 similar messages in the last 60 s: {same}",
        same,
    ]


def test_doctests() -> None:
    result = doctest.testmod(slow_clients)
    assert result.attempted > 0 and result.failed == 0
