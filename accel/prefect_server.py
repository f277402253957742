"""A local Prefect server for `accel serve` when none is configured: no Cloud, no account."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

DEFAULT_PORT = 4200
STARTUP_TIMEOUT_SECONDS = 90.0  # measured 20-25 s on a 2-core machine


@contextmanager
def local_prefect_server(port: int = DEFAULT_PORT) -> Iterator[str]:
    """Run `prefect server start` on 127.0.0.1 until the block ends; yields its API URL.

    If PREFECT_API_URL is already set, that server is used and nothing is started.
    """
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        yield configured
        return
    url = f"http://127.0.0.1:{port}/api"
    env = os.environ | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prefect server exited with status {process.returncode}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"prefect server not healthy after {STARTUP_TIMEOUT_SECONDS:.0f} s"
                )
            time.sleep(0.5)  # polling a starting server, bounded by the deadline
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)  # we set it above; nothing was configured
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
