"""Anonymous clients cannot forge access-log lines: `%0a`, `%0d` and `%1b` are logged as escapes."""

from __future__ import annotations

import io
import logging
import socket
import time
import urllib.parse
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from models.printable import printable
from web.app import create_app
from web.thread_server import serving

FORGED = "127.0.0.1 GET /ops/ 200 0.1 ms"
# Path and query both carry a line break, a carriage return and terminal escape sequences.
TARGET = (
    "/healthz%0a" + urllib.parse.quote(FORGED) + "%0d%1b[2J%1b]0;pwned%07%c2%9b31m%e2%80%ae"
    "?next=%0aINFO:%20forged%1b[31m"
)


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    """What the `accel.web` logger writes, through a real handler, one record per line."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger = logging.getLogger("accel.web")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield written
    logger.removeHandler(handler)
    logger.setLevel(level)


def _raw_get(url: str, target: str) -> bytes:
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("ascii")
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_control_characters_in_path_and_query_make_one_escaped_line(
    sqlite_engine: sa.Engine, access_log: io.StringIO
) -> None:
    with serving(create_app(engine=sqlite_engine)) as url:
        answer = _raw_get(url, TARGET)
        assert answer.startswith(b"HTTP/1.1 404 "), answer[:100]
        deadline = time.monotonic() + 10  # the line is written just after the response
        while "404" not in access_log.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = access_log.getvalue().splitlines()
    # Every line is a record of its own (the app's start-up warnings, then the one request).
    assert all(line.startswith(("INFO: ", "WARNING: ")) for line in lines), lines
    [line] = [line for line in lines if line.startswith("INFO: ")]
    assert printable(line) == line  # no raw control character left
    assert line.startswith("INFO: GET /healthz\\n127.0.0.1 GET /ops/ 200 0.1 ms\\r\\x1b[2J")
    assert "\\x1b]0;pwned\\x07\\x9b31m\\u202e 404 " in line
    assert "forged" not in line  # the query string is never logged
