"""Run the web app in a background thread on a free 127.0.0.1 port (tests, benchmarks, demos)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from web.app import server_config
from web.slow_clients import SlowClientLimits

STARTUP_TIMEOUT_SECONDS = 20.0


@contextmanager
def serving(
    app: Any, *, host: str = "127.0.0.1", limits: SlowClientLimits | None = None
) -> Iterator[str]:
    """Serve `app` as `accel web` does, on a free port, until the block ends; yields its URL."""
    config = server_config(app, host=host, port=0, log_config=None, limits=limits)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:  # polling the server until it listens, bounded
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
