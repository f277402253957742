"""Benchmark: our feed against Radicale serving the same calendar, on this machine, in one run.

Run: .venv/bin/python bench/bench_radicale.py [CITIES]   (default 1,000)
Needs wrk (apt-get install -y wrk) and Radicale in the same venv (.venv/bin/pip install radicale).

Builds the feed that `bench/bench_feeds.py` measures (the largest person feed of a generated
cohort: the organizer's), starts `accel web` and Radicale (`python -m radicale`, filesystem
storage in a temporary folder, no authentication, every other setting at its default), uploads
that very calendar into one Radicale calendar collection (one PUT of the whole calendar, which
Radicale stores as one resource per event, as MKCALENDAR plus one PUT per event would), and runs
`wrk -t2 -c16 -d10s` on a GET of the whole calendar from each: our `/calendars/<token>.ics` and
Radicale's collection URL (text/calendar). Also our 304 path; Radicale answers If-None-Match on
a GET with the full body, so it has no 304 row. wrk runs with `--timeout 60s` (its 2 s default
would count Radicale's slow answers as errors), and for Radicale with -d60s when one GET alone
takes over half a second, so that enough requests complete to measure.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_feeds import WRK, check, free_port, parse_wrk, prepare, start_accel_web  # noqa: E402

COLLECTION = "/bench/feed/"
TIMEOUT = "60s"
SLOW_S = 0.5  # one GET slower than this alone: measure for LONG, so enough requests complete
LONG = "60s"
RADICALE_CONFIG = """\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = none

[rights]
# With authentication off, "authenticated" lets anyone read and write: no rights checks.
type = authenticated

[storage]
type = multifilesystem
filesystem_folder = {folder}

[web]
type = none

[logging]
level = warning
"""


def missing_tools() -> list[str]:
    """What to install before this benchmark can run, as instructions ([] when ready)."""
    missing = []
    if shutil.which("wrk") is None:
        missing.append("wrk is not installed. On Debian/Ubuntu: sudo apt-get install -y wrk")
    if importlib.util.find_spec("radicale") is None:
        missing.append(
            f"Radicale is not installed in this Python ({sys.executable}). "
            f"Install it with: {sys.executable} -m pip install radicale"
        )
    return missing


def start_radicale(root: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Radicale on a free 127.0.0.1 port with its storage under root: (process, base, log)."""
    port = free_port()
    storage = root / "radicale-storage"
    storage.mkdir()
    config = root / "radicale.ini"
    config.write_text(RADICALE_CONFIG.format(port=port, folder=storage))
    log = root / "radicale.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:  # poll until it answers anything, bounded
        try:
            httpx.request("OPTIONS", f"{base}/", timeout=2)
            return server, base, log
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.terminate()
            server.wait(timeout=30)
            raise RuntimeError(f"Radicale did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)


def upload(base: str, calendar: bytes) -> str:
    """Store calendar as a Radicale calendar collection; its URL."""
    parent = httpx.request("MKCOL", f"{base}{COLLECTION.rsplit('/', 2)[0]}/", timeout=60)
    if parent.status_code not in (201, 405):  # 405: it exists
        raise RuntimeError(f"Radicale refused MKCOL: {parent.status_code} {parent.text}")
    url = f"{base}{COLLECTION}"
    response = httpx.put(
        url, content=calendar, headers={"Content-Type": "text/calendar"}, timeout=600
    )
    if response.status_code not in (200, 201, 204):
        raise RuntimeError(f"Radicale refused the upload: {response.status_code} {response.text}")
    return url


def wrk_command(duration: str) -> list[str]:
    """bench_feeds' wrk command for `duration`, with a timeout no response here reaches
    (wrk's default, 2 s, would count Radicale's slow answers as errors, not as latency)."""
    return [*(f"-d{duration}" if a.startswith("-d") else a for a in WRK), "--timeout", TIMEOUT]


def measure(url: str, *headers: str, duration: str = "10s") -> dict[str, str]:
    """wrk on url: requests/s, avg latency, p99, transfer/s, and any errors wrk counted."""
    args = [*wrk_command(duration), *(part for h in headers for part in ("-H", h)), url]
    output = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    figures = parse_wrk(output)
    errors = [
        line.strip()
        for line in output.splitlines()
        if line.strip().startswith(("Socket errors", "Non-2xx"))
    ]
    figures["errors"] = "; ".join(errors) or "none"
    return figures


def one_get(url: str) -> float:
    """Seconds for one GET of url on its own, the best of three."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        httpx.get(url, timeout=600).raise_for_status()
        best = min(best, time.perf_counter() - started)
    return best


def to_ms(latency: str) -> float | None:
    """wrk's latency text ("812.34us", "2.10ms", "1.02s") in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", latency)
    if not found:
        return None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[found.group(2)]
    return float(found.group(1)) * scale


def main() -> None:
    missing = missing_tools()
    if missing:
        for line in missing:
            print(line, file=sys.stderr)
        sys.exit(1)
    cities = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    version = importlib.metadata.version("radicale")
    rows: list[tuple[str, int, dict[str, str]]] = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        db_url, tokens = prepare(root, cities)
        email, token = next(iter(tokens.items()))  # the largest person feed, as bench_feeds
        ours, base = start_accel_web(db_url, root)
        radicale, radicale_base, radicale_log = start_radicale(root)
        try:
            feed_url = f"{base}/calendars/{token}.ics"
            etag, size, events = check(feed_url)
            calendar = httpx.get(feed_url, timeout=120).content
            started = time.perf_counter()
            collection = upload(radicale_base, calendar)
            uploaded_s = time.perf_counter() - started
            theirs = httpx.get(collection, timeout=600)
            theirs.raise_for_status()
            ours_s, theirs_s = one_get(feed_url), one_get(collection)
            their_events = theirs.content.count(b"BEGIN:VEVENT")
            if their_events != events:
                raise RuntimeError(f"Radicale serves {their_events} events, we serve {events}")
            stored = root / "radicale-storage" / "collection-root" / COLLECTION.strip("/")
            resources = sum(1 for p in stored.iterdir() if p.is_file() and p.suffix == ".ics")
            print(f"feed: person {email}, {events} events, {size / 1024:.1f} KB from accel web")
            print(
                f"Radicale {version}: {resources} resources uploaded in {uploaded_s:.1f} s, "
                f"collection GET {len(theirs.content) / 1024:.1f} KB, "
                f"{theirs.headers.get('content-type')}"
            )
            revalidated = httpx.get(
                collection, headers={"If-None-Match": theirs.headers["etag"]}, timeout=600
            )
            print(
                f"Radicale GET with If-None-Match: its own ETag: {revalidated.status_code}, "
                f"{len(revalidated.content) / 1024:.1f} KB; "
                f"it answers {theirs.http_version}, Connection: "
                f"{theirs.headers.get('connection', '(none)')}"
            )
            print(
                f"one GET alone (warm): accel web {ours_s * 1000:.0f} ms, "
                f"Radicale {theirs_s * 1000:.0f} ms"
            )
            duration = LONG if theirs_s > SLOW_S else "10s"
            print(
                f"command: {' '.join(wrk_command('10s'))} [-H 'If-None-Match: <etag>'] <url>"
                + (
                    f"; for Radicale -d{duration}, as one GET takes over {SLOW_S} s"
                    if duration != "10s"
                    else ""
                )
            )
            rows.append(("accel web, 200 full body", size, measure(feed_url)))
            rows.append(("accel web, 304", 0, measure(feed_url, f"If-None-Match: {etag}")))
            rows.append(
                (
                    "Radicale, 200 full body",
                    len(theirs.content),
                    measure(collection, duration=duration),
                )
            )
        finally:
            for server in (ours, radicale):
                server.terminate()
                server.wait(timeout=30)
        errors = [
            line
            for line in radicale_log.read_text().splitlines()
            if "[ERROR]" in line or "[CRITICAL]" in line
        ]
        if errors:
            print("Radicale logged errors:\n" + "\n".join(errors[-20:]))
    print(
        f"{'server and path':<26} {'requests/s':>10} {'avg latency':>11} {'p99':>9} "
        f"{'body KB':>8} {'transfer':>10}  errors"
    )
    for label, body, r in rows:
        print(
            f"{label:<26} {r['rps']:>10} {r['latency']:>11} {r['p99']:>9} "
            f"{body / 1024:>8.1f} {r['transfer']:>8}/s  {r['errors']}"
        )
    ours_rps, theirs_rps = float(rows[0][2]["rps"]), float(rows[2][2]["rps"])
    ours_ms, theirs_ms = to_ms(rows[0][2]["latency"]), to_ms(rows[2][2]["latency"])
    if theirs_rps > 0:
        print(f"requests/s, full body: accel web = {ours_rps / theirs_rps:.1f}x Radicale")
    if ours_ms and theirs_ms:
        print(f"avg latency, full body: Radicale = {theirs_ms / ours_ms:.1f}x accel web")


if __name__ == "__main__":
    main()
