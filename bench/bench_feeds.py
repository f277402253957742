"""Benchmark: requests/s of `accel web` for the largest feed of a 1,000-city cohort, full and 304.

Run: .venv/bin/python bench/bench_feeds.py [CITIES] (needs wrk: apt-get install -y wrk)
Applies a generated cohort to a temporary SQLite file, starts `accel web` (uvicorn, one
worker, default settings) on a free port, then runs `wrk -t2 -c16 -d10s` on the biggest
feed served by token (the organizer's) and, for scale, on a team member's.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from models.tables import INVITATION

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
WRK = ["wrk", "-t2", "-c16", "-d10s", "--latency"]
APPLIED_AT = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def prepare(root: Path, cities: int) -> tuple[str, dict[str, str]]:
    """Apply the cohort; tokens for its biggest person feed and a team member's: (db url, tokens)."""
    from accel.database import create_schema, make_engine
    from accel.feed_source import feed_source_from_inputs, store_feed_source
    from accel.feed_tokens import FeedSubject, issue_token
    from accel.inputs import load_inputs
    from bench.generated_cohort import generated_cohort
    from tasks.operations import apply_cohort

    (root / "cohorts").mkdir()
    (root / "programs").mkdir()
    shutil.copy(REPO / "programs" / "cda-accelerator.yaml", root / "programs")
    cohort = root / "cohorts" / "bench.yaml"
    cohort.write_text(generated_cohort(cities))
    url = f"sqlite:///{root / 'bench.db'}"
    engine = make_engine(url)
    create_schema(engine)
    started = time.perf_counter()
    inputs = load_inputs(cohort)
    apply_cohort(engine, inputs, now=APPLIED_AT)
    print(f"applied {cities} cities in {time.perf_counter() - started:.1f} s", flush=True)
    with engine.begin() as connection:
        store_feed_source(connection, source=feed_source_from_inputs(inputs), now=APPLIED_AT)
        # The person invited to the most sessions has the biggest feed served by token.
        email = connection.execute(
            sa.select(INVITATION.c.email)
            .group_by(INVITATION.c.email)
            .order_by(sa.func.count().desc(), INVITATION.c.email)
            .limit(1)
        ).scalar_one()
        member = "m0@city-0000.example.org"
        tokens = {
            who: issue_token(
                connection, subject=FeedSubject(inputs.cohort.id, "person", who), now=APPLIED_AT
            )
            for who in (email, member)
        }
    engine.dispose()
    return url, tokens


def wrk(url: str, *headers: str) -> dict[str, str]:
    """Run `WRK` on url (with extra headers): requests/s, avg latency, p99, transfer/s."""
    args = [*WRK, *(part for h in headers for part in ("-H", h)), url]
    output = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    if "Non-2xx or 3xx responses" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    return parse_wrk(output)


def parse_wrk(output: str) -> dict[str, str]:
    """The figures of one `wrk --latency` report, as printed ("?" where absent)."""
    found = {
        "rps": re.search(r"Requests/sec:\s+([\d.]+)", output),
        "latency": re.search(r"Latency\s+([\d.]+\w+)", output),
        "p99": re.search(r"99%\s+([\d.]+\w+)", output),
        "transfer": re.search(r"Transfer/sec:\s+([\d.]+\w+)", output),
    }
    return {name: match.group(1) if match else "?" for name, match in found.items()}


def wait_until_up(server: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 60
    while True:  # poll until the server answers, bounded
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("accel web did not start")
        time.sleep(0.1)


def start_accel_web(db_url: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`accel web` on a free 127.0.0.1 port, answering: (process, base URL)."""
    port = free_port()
    accel = Path(sys.executable).with_name("accel")
    server = subprocess.Popen(
        [str(accel), "web", "--host", "127.0.0.1", "--port", str(port)],
        env=os.environ | {"ACCEL_DATABASE_URL": db_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=folder,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(server, base)
    except BaseException:
        server.terminate()
        server.wait(timeout=30)
        raise
    return server, base


def check(feed_url: str) -> tuple[str, int, int]:
    """Warm the cache and check both paths answer as measured: (etag, bytes, events)."""
    first = httpx.get(feed_url, timeout=120)
    first.raise_for_status()
    etag = first.headers["etag"]
    revalidated = httpx.get(feed_url, headers={"If-None-Match": etag}, timeout=60)
    assert revalidated.status_code == 304, revalidated.status_code
    return etag, len(first.content), first.content.count(b"BEGIN:VEVENT")


def main() -> None:
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed. On Debian/Ubuntu: sudo apt-get install -y wrk", file=sys.stderr
        )
        sys.exit(1)
    cities = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as folder:
        db_url, tokens = prepare(Path(folder), cities)
        server, base = start_accel_web(db_url, Path(folder))
        try:
            print(f"command: {' '.join(WRK)} [-H 'If-None-Match: <etag>'] <feed url>")
            rows = []
            for label, (email, token) in zip(("largest", "member"), tokens.items(), strict=True):
                feed_url = f"{base}/calendars/{token}.ics"
                etag, size, events = check(feed_url)
                print(f"{label} feed: person {email}, {events} events, {size / 1024:.1f} KB")
                rows.append((f"{label} 200 full body", wrk(feed_url)))
                rows.append((f"{label} 304", wrk(feed_url, f"If-None-Match: {etag}")))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"{'feed and path':<24} {'requests/s':>10} {'avg latency':>11} {'p99':>9} {'transfer':>9}"
    )
    for label, r in rows:
        print(f"{label:<24} {r['rps']:>10} {r['latency']:>11} {r['p99']:>9} {r['transfer']:>7}/s")


if __name__ == "__main__":
    main()
