"""Run the real `accel web` command in a child process on a free loopback port (tests only)."""

from __future__ import annotations

import os
import re
import resource
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STARTUP_SECONDS = 60.0
_LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class WebProcess:
    url: str
    port: int
    log: Path  # everything the process wrote (stderr and stdout)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def accel_web(
    tmp_path: Path, *, env: dict[str, str] | None = None, file_limit: int | None = None
) -> Iterator[WebProcess]:
    """`accel web --port 0` on a SQLite file under `tmp_path`; with `file_limit`, its
    RLIMIT_NOFILE (soft and hard) is lowered to that many descriptors."""
    log = tmp_path / "accel-web.log"

    def lower_file_limit() -> None:
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (file_limit, file_limit))

    environment = {
        **os.environ,
        "ACCEL_DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    accel = Path(sys.executable).with_name("accel")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(accel), "web", "--port", "0"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            preexec_fn=lower_file_limit,
        )
    try:
        port = _wait_for_port(process, log)
        yield WebProcess(f"http://127.0.0.1:{port}", port, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def _wait_for_port(process: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:  # polling the log until the server listens, bounded
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found:
            return int(found.group(1))
        if process.poll() is not None:
            raise RuntimeError(f"accel web exited: {log.read_text(errors='replace')}")
        time.sleep(0.05)
    raise RuntimeError("accel web did not start")


def half_requests(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` connections that each send half a request head and then nothing."""
    held = []
    for _ in range(count):
        connection = socket.create_connection((host, port), timeout=10)
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        held.append(connection)
    return held


def get_once(host: str, port: int, path: str, *, timeout: float = 10.0) -> bytes:
    """The whole answer to one `GET path` on a fresh connection (Connection: close)."""
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("ascii")
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def still_open(connections: list[socket.socket]) -> int:
    """How many of these connections the server has not closed (no EOF, no reset yet)."""
    alive = 0
    for connection in connections:
        connection.setblocking(False)
        try:
            if connection.recv(1024):
                alive += 1  # an answer is not a close (none is expected here)
        except (BlockingIOError, ssl.SSLWantReadError):  # nothing to read: still open
            alive += 1
        except OSError:
            pass
    return alive


def open_once_settled(
    connections: list[socket.socket], *, at_most: int, within: float = 3.0
) -> int:
    """How many stay open once the server's closes have arrived (polled until at most
    `at_most`, or for `within` seconds): a close is on its way for a moment."""
    deadline = time.monotonic() + within
    alive = still_open(connections)
    while alive > at_most and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = still_open(connections)
    return alive
