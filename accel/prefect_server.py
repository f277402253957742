"""A local Prefect server for `accel serve` when none is configured: no Cloud, no account."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path

import httpx

DEFAULT_PORT = 4200
STARTUP_TIMEOUT_SECONDS = 90.0  # measured 20-25 s on a 2-core machine
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
DRAIN_TIMEOUT_SECONDS = 10.0
# Our own settings (SMTP credentials, the database URL, operator password, session secret...):
# the Prefect server needs none of them. Flow runs read them from `accel serve`'s environment.
OWN_SETTINGS_PREFIX = "ACCEL_"
# Prefect reports usage unless told not to: the server's heartbeat to sens-o-matic.prefect.io
# ("Failed to send telemetry: Name or service not known" on a machine without internet) and
# the SDK's events (prefect/_internal/analytics: first flow run, first deployment...).
TELEMETRY_OFF = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited with status {process.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"prefect server not healthy after {STARTUP_TIMEOUT_SECONDS:.0f} s; see {log}"
            )
        time.sleep(0.5)  # polling a starting server, bounded by the deadline


def _server_preexec(parent: int) -> Callable[[], None] | None:
    """For the server process, before `exec`: on Linux, ask for SIGTERM when `accel serve` dies,
    even by SIGKILL, so a killed `accel serve` never leaves a server holding the port."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the forked child

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # we died before prctl took effect
            os._exit(1)

    return preexec


def prefect_telemetry_off(environment: MutableMapping[str, str]) -> None:
    """Turn Prefect's analytics off in `environment` (os.environ before Prefect is imported:
    it reads its settings then), for this process and every process it starts."""
    environment.update(TELEMETRY_OFF)


def server_environment(parent: Mapping[str, str]) -> dict[str, str]:
    """The environment for the `prefect server start` child: `parent`'s, less every ACCEL_*
    variable (secrets it does not need, and would show to anyone who can read its process),
    plus the server's own settings. PREFECT_*, PATH, HOME, locale and proxies pass through.

    >>> env = server_environment(
    ...     {"PATH": "/bin", "PREFECT_HOME": "/p", "ACCEL_SMTP_PASSWORD": "x", "accel_x": "y"}
    ... )
    >>> sorted(env)  # doctest: +NORMALIZE_WHITESPACE
    ['DO_NOT_TRACK', 'PATH', 'PREFECT_HOME', 'PREFECT_SERVER_ANALYTICS_ENABLED',
     'PREFECT_UI_ENABLED']
    """
    # Case-insensitive, as pydantic-settings reads them: `accel_smtp_password` is a secret too.
    kept = {k: v for k, v in parent.items() if not k.upper().startswith(OWN_SETTINGS_PREFIX)}
    ui = {"PREFECT_UI_ENABLED": "true"}  # operators trigger runs and read logs there
    return kept | TELEMETRY_OFF | ui


def start_server_process(
    port: int, *, log: Path, parent_environment: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """Spawn `prefect server start` on 127.0.0.1:`port`, output appended to `log`; returns at
    once (see `local_prefect_server` for waiting until it answers)."""
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            command,
            env=server_environment(parent_environment),
            stdout=output,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C (or a signal to our process group) stops the runner
            # first, which pauses the schedules while the server still answers; then the
            # `finally` of `local_prefect_server` stops the server. In our group, the server
            # died at once and the runner's last API calls met a closed port.
            start_new_session=True,
            preexec_fn=_server_preexec(os.getpid()),
        )


def _drain_prefect_clients() -> None:
    """Send this process's last logs and events while the server still answers.

    Prefect flushes them at interpreter exit; by then our server is gone and that flush kept
    `accel serve` from exiting (over 40 s measured, retrying). The log and event workers
    share one registry of instances: each call drains both.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=DRAIN_TIMEOUT_SECONDS)


@contextmanager
def local_prefect_server(port: int = DEFAULT_PORT) -> Iterator[str]:
    """Run `prefect server start` on 127.0.0.1 until the block ends; yields its API URL.

    `port` 0 picks a free port. If PREFECT_API_URL is already set (environment or Prefect
    profile), that server is used and nothing is started. The server's own output goes to
    `server.log` in PREFECT_HOME; its database is PREFECT_HOME's, kept between runs.
    """
    import prefect.settings as ps

    configured = ps.PREFECT_API_URL.value()
    if configured:
        yield configured
        return
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/api"
    home = Path(ps.PREFECT_HOME.value())
    home.mkdir(parents=True, exist_ok=True)
    log = home / "server.log"
    process = start_server_process(port, log=log, parent_environment=os.environ)
    try:
        _wait_healthy(process, url, log)
        # Prefect reads its settings once, at import: the environment variable is for the
        # flow-run processes we start, the temporary setting for this one.
        os.environ["PREFECT_API_URL"] = url
        with ps.temporary_settings(updates={ps.PREFECT_API_URL: url}):
            yield url
    finally:
        _drain_prefect_clients()
        os.environ.pop("PREFECT_API_URL", None)  # we set it above; nothing was configured
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
