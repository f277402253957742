"""Run every benchmark of the project and write bench/RESULTS.md.

Run: bench/run_all [--cluster] [--only NAME[,NAME...]] [--out FILE]

Each benchmark present in bench/ runs in turn with this venv's Python; its output is echoed as
it comes and kept verbatim. RESULTS.md gets the date (UTC), the machine (CPUs, memory, CPU
model, Python, key package versions), the load average at the start of the run and of each
benchmark, then one section per benchmark: the command, its output in a code block, and a
reading that sets each figure beside its peer from the same run. A benchmark that fails is
recorded with the tail of its stderr and the run goes on; the exit status is then 1.
`cluster.sh` runs only with --cluster. The report is rewritten after every benchmark, so an
interrupted run leaves what it measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PACKAGES = ["prefect", "sqlalchemy", "icalendar", "uvicorn", "radicale", "fastapi", "httpx"]
STDERR_TAIL_LINES = 40
TIMEOUT_S = 3 * 3600

# A reading: (this benchmark's output, {name: output} of those that ran before it) -> text.
Reading = Callable[[str, dict[str, str]], str]


@dataclass
class Benchmark:
    name: str
    script: str
    args: list[str]
    reading: Reading
    interpreter: str = ""  # "" for this venv's Python

    def command(self) -> list[str]:
        runner = [self.interpreter] if self.interpreter else [sys.executable]
        return [*runner, str(BENCH / self.script), *self.args]

    def shown(self) -> str:
        runner = self.interpreter or ".venv/bin/python"
        return shlex.join([runner, f"bench/{self.script}", *self.args])


@dataclass
class Outcome:
    benchmark: Benchmark
    started: dt.datetime
    load: tuple[float, float, float]
    seconds: float = 0.0
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.returncode != 0


# ---------------------------------------------------------------------------- readings


def number(pattern: str, text: str, group: int = 1) -> float:
    """The first match of pattern in text, as a float (ValueError when absent)."""
    found = re.search(pattern, text, re.MULTILINE)
    if found is None:
        raise ValueError(f"not found: {pattern}")
    return float(found.group(group))


def to_ms(latency: str) -> float:
    """wrk's latency text ("812.34us", "2.10ms", "1.02s") in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", latency)
    if found is None:
        raise ValueError(f"not a latency: {latency}")
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[found[2]]


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b else "n/a"


def percent(a: float, b: float) -> str:
    return f"{a / b:.0%}" if b else "n/a"


def rate(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.2f}"


def duration(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def read_apply(out: str, _earlier: dict[str, str]) -> str:
    rows = [
        [float(x) for x in line.split()]
        for line in out.splitlines()
        if re.fullmatch(r"\s*\d+(\s+[\d.]+){7}\s*", line)
    ]
    if not rows:
        raise ValueError("no rows")
    parts = []
    for cities, sessions, invites, _expand, apply_s, total, reapply, rss in rows:
        parts.append(
            f"{cities:.0f} cities ({sessions:.0f} sessions, {invites:.0f} invitations): "
            f"{total:.2f} s in all, {total / cities * 1000:.0f} ms per city; the no-op re-apply "
            f"takes {percent(reapply, apply_s)} of the apply; peak RSS {rss:.0f} MB"
        )
    text = "; ".join(parts) + "."
    if len(rows) > 1:
        small, big = rows[0], rows[-1]
        growth = big[5] / small[5] if small[5] else float("nan")
        text += (
            f" From {small[0]:.0f} to {big[0]:.0f} cities ({big[0] / small[0]:.0f}× the cities) "
            f"the total grows {growth:.1f}× and peak memory {ratio(big[7], small[7])}, "
            "so cost per city "
            + (
                "falls with size (fixed costs amortised)"
                if growth < big[0] / small[0]
                else "rises with size"
            )
            + "."
        )
    return text


def wrk_rows(out: str, labels: list[str]) -> dict[str, tuple[float, float, float]]:
    """{label: (requests/s, avg ms, p99 ms)} for the table lines that start with each label."""
    rows = {}
    for label in labels:
        found = re.search(
            rf"^{re.escape(label)}\s+([\d.]+)\s+([\d.]+\w+)\s+([\d.]+\w+)", out, re.MULTILINE
        )
        if found:
            rows[label] = (float(found[1]), to_ms(found[2]), to_ms(found[3]))
    return rows


def read_feeds(out: str, _earlier: dict[str, str]) -> str:
    rows = wrk_rows(
        out,
        ["largest 200 full body", "largest 304", "member 200 full body", "member 304"],
    )
    largest = re.search(r"^largest feed: person (\S+), (\d+) events, ([\d.]+) KB", out, re.M)
    member = re.search(r"^member feed: person (\S+), (\d+) events, ([\d.]+) KB", out, re.M)
    if not largest or not member or len(rows) < 4:
        raise ValueError("unexpected output")
    full, cond = rows["largest 200 full body"], rows["largest 304"]
    mfull, mcond = rows["member 200 full body"], rows["member 304"]
    return (
        f"The largest feed ({largest[1]}, {largest[2]} events, {largest[3]} KB) serves "
        f"{full[0]:.0f} requests/s in full against {cond[0]:.0f} for its 304 "
        f"(304 = {ratio(cond[0], full[0])} the full-body rate; avg latency {full[1]:.1f} vs "
        f"{cond[1]:.1f} ms, p99 {full[2]:.1f} vs {cond[2]:.1f} ms). A team member's feed "
        f"({member[2]} events, {member[3]} KB) serves {mfull[0]:.0f} requests/s in full and "
        f"{mcond[0]:.0f} as 304; the largest feed's full-body rate is "
        f"{percent(full[0], mfull[0])} of the member's for "
        f"{ratio(float(largest[3]), float(member[3]))} the bytes. "
        + (
            "The full body and the 304 run at about the same rate: the built feed is cached "
            "in memory, so the per-request work (token and version lookups) sets the rate, "
            "not the bytes."
            if 0.8 <= cond[0] / full[0] <= 1.25
            else f"The 304 path runs at {ratio(cond[0], full[0])} the full-body rate: the "
            "bytes of the body weigh on the rate."
            if cond[0] > full[0]
            else f"The 304 path ran at {ratio(cond[0], full[0])} the full-body rate although "
            "it does the same lookups and sends no body: most likely the load on this shared "
            "machine moved between the two wrk runs by more than the body costs."
        )
    )


def read_radicale(out: str, earlier: dict[str, str]) -> str:
    labels = ["accel web, 200 full body", "accel web, 304", "Radicale, 200 full body"]
    rows = wrk_rows(out, labels)
    if len(rows) < 3:
        raise ValueError("unexpected output")
    sizes = dict(
        (m[1].strip(), float(m[2]))
        for m in re.finditer(
            r"^(accel web, 200 full body|Radicale, 200 full body)\s+\S+\s+\S+\s+\S+\s+([\d.]+)",
            out,
            re.M,
        )
    )
    ours, cond, theirs = (rows[label] for label in labels)
    feed = re.search(r"^feed: person (\S+), (\d+) events", out, re.M)
    server = re.search(r"^Radicale ([\d.]+): (\d+) resources uploaded in ([\d.]+) s", out, re.M)
    http = re.search(r"it answers (HTTP/[\d.]+), Connection: (\S+)", out)
    revalidated = re.search(r"If-None-Match: its own ETag: (\d+)", out)
    text = (
        f"Same calendar on both ({feed[2] if feed else '?'} events, the largest person feed): "
        f"accel web serves {rate(ours[0])} requests/s against Radicale"
        f"{' ' + server[1] if server else ''}'s {rate(theirs[0])}, "
        f"**{ratio(ours[0], theirs[0])}** Radicale's rate; avg latency {duration(ours[1])} vs "
        f"{duration(theirs[1])} (Radicale {ratio(theirs[1], ours[1])} slower), p99 "
        f"{duration(ours[2])} vs {duration(theirs[2])} ({ratio(theirs[2], ours[2])})."
    )
    if sizes:
        text += (
            f" Body: {sizes.get('accel web, 200 full body', 0):.1f} KB from us, "
            f"{sizes.get('Radicale, 200 full body', 0):.1f} KB from Radicale (it re-serialises "
            "the stored events)."
        )
    text += (
        f" Our 304 runs at {rate(cond[0])} requests/s ({ratio(cond[0], ours[0])} our full-body "
        f"rate, {ratio(cond[0], theirs[0])} Radicale's)"
    )
    if revalidated and revalidated[1] != "304":
        text += (
            f"; Radicale answers a GET with If-None-Match and its own ETag with "
            f"{revalidated[1]} and the whole body, so a polling calendar client re-downloads "
            "everything each time"
        )
    text += "."
    single = re.search(r"one GET alone \(warm\): accel web (\d+) ms, Radicale (\d+) ms", out)
    if single:
        text += (
            f" One GET on its own takes {single[1]} ms from us and {single[2]} ms from Radicale "
            f"({ratio(float(single[2]), max(float(single[1]), 1.0))})."
        )
    longer = re.search(r"for Radicale (-d\d+\w)", out)
    if longer:
        text += f" Radicale was measured with {longer[1]} (one GET takes long), the rest -d10s."
    errors = re.search(r"^Radicale, 200 full body\s.*\s(Socket errors[^\n]*)$", out, re.M)
    if errors:
        text += f" wrk counted errors on Radicale: {errors[1]}."
    if server:
        text += f" Radicale stored {server[2]} resources; the upload took {server[3]} s."
    feeds = wrk_rows(earlier.get("feeds", ""), ["largest 200 full body"])
    if feeds:
        same = feeds["largest 200 full body"][0]
        text += (
            f" bench_feeds served this same feed at {rate(same)} requests/s a few minutes "
            f"earlier against {rate(ours[0])} here: a spread of "
            f"{abs(ours[0] - same) / max(ours[0], same):.0%} between two runs of one server, "
            "the noise to allow for on this machine."
        )
    if http:
        text += (
            " Radicale ran with its defaults: its built-in server answers "
            + (
                f"{http[1]} and closes the connection after each response, so wrk opens a new "
                "connection per request"
                if http[1] == "HTTP/1.0" and http[2].lower() != "keep-alive"
                else f"{http[1]} (Connection: {http[2]})"
            )
            + ", with at most 8 connections served at once (max_connections); accel web is one "
            "uvicorn worker with keep-alive."
        )
    return text


def read_dispatch(out: str, _earlier: dict[str, str]) -> str:
    bare = number(r"^bare aiosmtplib loop:\s+([\d.]+) messages/s", out)
    lazy = number(r"^dispatcher, lazy:\s+([\d.]+) messages/s", out)
    pre = number(r"^dispatcher, pre-rendered:\s*([\d.]+) messages/s", out)
    two = number(r"^2 dispatchers, lazy:\s+([\d.]+) messages/s", out)
    render = number(r"^rendering:\s+([\d.]+) ms/message", out)
    one_commit = number(r"^recording,\s+1 per commit:\s+([\d.]+) ms/message", out)
    group_commit = number(r"^recording,\s+20 per commit:\s+([\d.]+) ms/message", out)
    count = re.search(r"\((\d+) invitations\)", out)
    gap_ms = 1000 / lazy - 1000 / pre
    return (
        f"On {count[1] if count else 'the'} invitations sent to the same local sink: the bare "
        f"aiosmtplib loop (pre-rendered bytes, one connection) does {bare:.0f} messages/s; the "
        f"dispatcher as deployed (lazy rendering, 4 connections) {lazy:.0f}/s = "
        f"{percent(lazy, bare)} of bare; with every row's bytes pre-rendered {pre:.0f}/s = "
        f"{percent(pre, bare)} of bare, {ratio(pre, lazy)} the lazy rate. "
        + (
            f"The lazy path costs {gap_ms:.1f} ms/message more than the pre-rendered one, of "
            f"which rendering alone ({render:.2f} ms/message measured on its own) is "
            f"{percent(render, gap_ms)}. "
            if 0 < render < gap_ms
            else f"The lazy path costs {gap_ms:.1f} ms/message more than the pre-rendered one; "
            f"rendering measured on its own costs {render:.2f} ms/message, more than that whole "
            "difference. "
            if gap_ms > 0
            else f"Rendering alone measures {render:.2f} ms/message. "
        )
        + f"Two dispatcher processes on one queue reach {two:.0f}/s = {percent(two, bare)} of "
        f"bare and {ratio(two, lazy)} one lazy dispatcher (both share this 2-core machine "
        f"with the sink and other work). Recording outcomes costs {one_commit:.2f} ms/message "
        "with a commit per "
        f"message against {group_commit:.2f} with a commit per 20 "
        f"({ratio(one_commit, group_commit)} cheaper grouped)."
    )


FLOW_ROW = re.compile(
    r"^\s*(\d+)\s+\d+\s+\d+\s*\|"  # cities, sessions, invitations
    r"\s*([\d.]+)\s+([\d.]+)\s+([+-][\d.]+)\s+[+-]?\d+%\s*\|"  # best of runs
    r"\s*([\d.]+)\s+([\d.]+)\s+([+-][\d.]+)\s+([+-]?\d+)%",  # median
    re.M,
)


def read_flows(out: str, earlier: dict[str, str]) -> str:
    """bench_flows.py prints, per size, best-of-runs and median plain/flow times: read medians."""
    rows = list(dict.fromkeys(FLOW_ROW.findall(out)))  # printed as it goes, then as a table
    if not rows:
        return read_generic(out, earlier)
    parts = []
    for cities, _bp, _bf, _be, plain, flow, extra, share in rows:
        parts.append(
            f"{cities} cities: flow {float(flow):.2f} s vs plain {float(plain):.2f} s (medians), "
            f"Prefect adds {float(extra):+.2f} s = {int(share):+d}% of the plain time"
        )
    text = "; ".join(parts) + "."
    if len(rows) > 1:
        first, last = float(rows[0][6]), float(rows[-1][6])
        work = float(rows[-1][4]) / float(rows[0][4])
        shape = (
            "roughly a fixed cost per flow run (its API round trips and task bookkeeping), so "
            "its share falls as the cohort grows"
            if last <= 2 * max(first, 0.1)
            else "growing with the cohort"
        )
        text += (
            f" From {rows[0][0]} to {rows[-1][0]} cities the plain time grows {work:.0f}× while "
            f"the time Prefect adds goes from {first:+.2f} s to {last:+.2f} s: {shape}."
        )
    cold = re.search(r"cold first call, 10 cities: plain ([\d.]+) s, flow ([\d.]+) s", out)
    if cold:
        text += (
            f" Cold first call (10 cities, imports and first API client): plain {cold[1]} s, "
            f"flow {cold[2]} s."
        )
    return text


def read_cluster(out: str, earlier: dict[str, str]) -> str:
    """cluster.sh prints [PASS]/[FAIL] checks and a total: say which, with the counts."""
    checks = re.findall(r"^\s*\[(PASS|FAIL)\] ([^:]+): (.*)$", out, re.M)
    total = re.search(r"^total ([\d.]+) s: (\w+)", out, re.M)
    if not checks or not total:
        return read_generic(out, earlier)
    failed = [name for verdict, name, _ in checks if verdict == "FAIL"]
    replay = re.search(r"^\s*([\d.]+) s\s+replay: (.*)$", out, re.M)
    queued = re.search(r"(\d+) messages queued", out)
    text = (
        f"{len(checks) - len(failed)} of {len(checks)} checks passed in {total[1]} s"
        + (f" (failed: {', '.join(failed)})" if failed else "")
        + "."
    )
    if queued and replay:
        text += (
            f" {queued[1]} messages were queued by a `sync-cohort` flow run and sent by the "
            f"replay ({replay[2]}) in {replay[1]} s through two Prefect process workers on "
            "PostgreSQL."
        )
    for _verdict, name, detail in checks:
        if name in ("no duplicates at the sink", "both workers ran flows"):
            text += f" {name[0].upper()}{name[1:]}: {detail.strip()}."
    return text


COMPARISON = re.compile(r"%|×|\bvs\b|\bof (bare|plain)\b|\bx\b", re.IGNORECASE)


def read_generic(out: str, _earlier: dict[str, str]) -> str:
    """For a benchmark whose output format this script does not know: its comparison lines."""
    lines = [line.strip() for line in out.splitlines() if COMPARISON.search(line)]
    if not lines:
        raise ValueError("no comparison lines")
    return "Its own comparisons, as printed: " + "; ".join(f"`{line}`" for line in lines) + "."


def benchmarks(cluster: bool) -> list[Benchmark]:
    known = [
        Benchmark("apply", "bench_apply.py", ["10", "100", "1000"], read_apply),
        Benchmark("feeds", "bench_feeds.py", [], read_feeds),
        Benchmark("radicale", "bench_radicale.py", [], read_radicale),
        Benchmark("dispatch", "bench_dispatch.py", [], read_dispatch),
        Benchmark("flows", "bench_flows.py", [], read_flows),
    ]
    if cluster:
        known.append(Benchmark("cluster", "cluster.sh", [], read_cluster, interpreter="bash"))
    return known


# ---------------------------------------------------------------------------- the machine


def venv_facts() -> dict[str, str]:
    """Python and package versions as the benchmarks see them (this interpreter)."""
    import importlib.metadata

    facts = {"python": f"{platform.python_implementation()} {platform.python_version()}"}
    for name in PACKAGES:
        try:
            facts[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            facts[name] = "not installed"
    return facts


def machine() -> list[tuple[str, str]]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    memory = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.M)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wrk = "not installed"
    if shutil.which("wrk"):
        shown = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
        wrk = ((shown.stdout or shown.stderr).splitlines() or ["?"])[0]
    facts = venv_facts()
    return [
        ("CPUs (nproc)", f"{usable} usable of {os.cpu_count()}"),
        ("CPU model", model[1].strip() if model else "unknown"),
        ("memory", f"{int(memory[1]) / 1024 / 1024:.1f} GiB" if memory else "unknown"),
        ("system", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("Python", f"{facts.pop('python')} ({sys.executable})"),
        ("packages", ", ".join(f"{name} {version}" for name, version in facts.items())),
        ("wrk", wrk),
        ("commit", commit()),
    ]


def commit() -> str:
    """The checked-out commit, read from .git (no git command), or "unknown"."""
    git = REPO / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head.removeprefix("ref: ")
        if (git / ref).exists():
            return f"{(git / ref).read_text().strip()[:12]} ({ref.removeprefix('refs/heads/')})"
        packed = (git / "packed-refs").read_text()
        found = re.search(rf"^([0-9a-f]{{40}}) {re.escape(ref)}$", packed, re.M)
        return f"{found[1][:12]} ({ref.removeprefix('refs/heads/')})" if found else "unknown"
    except OSError:
        return "unknown"


def load() -> tuple[float, float, float]:
    return os.getloadavg()


def shown_load(figures: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in figures) + " (1 / 5 / 15 min)"


def load_note(figures: tuple[float, float, float]) -> str:
    """What the load at the start says about the figures: quiet, or shared with other work."""
    if figures[0] <= 0.5 * (os.cpu_count() or 1):
        return (
            "The machine was otherwise quiet at the start (each benchmark and its peers load "
            "it themselves), so the figures are close to what it can do."
        )
    return (
        "The machine is shared: other work (tests, other engineers' runs) was running "
        "alongside, so absolute rates are lower and noisier than on an idle machine; ratios "
        "between figures of one benchmark are the more reliable part."
    )


# ---------------------------------------------------------------------------- running


def run(benchmark: Benchmark) -> Outcome:
    outcome = Outcome(benchmark, dt.datetime.now(dt.UTC), load())
    print(
        f"\n=== {benchmark.name}: {benchmark.shown()}  (load {shown_load(outcome.load)})",
        flush=True,
    )
    started = time.perf_counter()
    lines: list[str] = []
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            benchmark.command(),
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=REPO,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:
                lines.append(line)
                print(f"  | {line}", end="", flush=True)
                if time.perf_counter() - started > TIMEOUT_S:
                    raise TimeoutError
            process.wait(timeout=max(1, TIMEOUT_S - (time.perf_counter() - started)))
        except (TimeoutError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
            outcome.notes.append(f"stopped after {TIMEOUT_S} s")
        except KeyboardInterrupt:
            process.kill()
            process.wait()
            raise
        errors.seek(0)
        outcome.stderr = errors.read()
    outcome.seconds = time.perf_counter() - started
    outcome.returncode = process.returncode
    outcome.stdout = "".join(lines)
    state = "ok" if not outcome.failed else f"FAILED (exit {outcome.returncode})"
    print(f"=== {benchmark.name}: {state} in {outcome.seconds:.0f} s", flush=True)
    if outcome.failed:
        for line in tail(outcome.stderr):
            print(f"  ! {line}", flush=True)
    return outcome


def tail(text: str, lines: int = STDERR_TAIL_LINES) -> list[str]:
    return text.rstrip("\n").splitlines()[-lines:]


# ---------------------------------------------------------------------------- the report


def fence(text: str) -> str:
    body = text.rstrip("\n") or "(no output)"
    ticks = "````" if "```" in body else "```"
    return f"{ticks}text\n{body}\n{ticks}"


def section(outcome: Outcome, earlier: dict[str, str]) -> str:
    b = outcome.benchmark
    head = [
        f"## {b.name}: `{b.script}`",
        "",
        f"Command: `{b.shown()}`  ",
        f"Started {outcome.started:%H:%M:%S} UTC, took {outcome.seconds:.0f} s, "
        f"load average at its start {shown_load(outcome.load)}.",
        "",
    ]
    if outcome.failed:
        head += [
            f"**FAILED** (exit {outcome.returncode}"
            + (f"; {'; '.join(outcome.notes)}" if outcome.notes else "")
            + "). Output before the failure:",
            "",
            fence(outcome.stdout),
            "",
            f"Last {STDERR_TAIL_LINES} lines of stderr:",
            "",
            fence("\n".join(tail(outcome.stderr))),
            "",
        ]
        return "\n".join(head)
    try:
        reading = b.reading(outcome.stdout, earlier)
    except (ValueError, KeyError, IndexError, TypeError, ZeroDivisionError) as error:
        reading = f"(Figures not parsed: {error}; the output above is the result.)"
    return "\n".join([*head, fence(outcome.stdout), "", f"**Reading.** {reading}", ""])


def report(
    started: dt.datetime,
    start_load: tuple[float, float, float],
    facts: list[tuple[str, str]],
    outcomes: list[Outcome],
    skipped: list[str],
    finished: bool,
) -> str:
    failed = [o.benchmark.name for o in outcomes if o.failed]
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run_all`; every figure below comes from this one run on this "
        "machine, and each reading compares figures measured in the same run.",
        "",
        f"- **date**: {started:%Y-%m-%d %H:%M:%S} UTC"
        + (
            f", finished {dt.datetime.now(dt.UTC):%H:%M:%S} UTC"
            if finished
            else " (run in progress or interrupted)"
        ),
        *(f"- **{name}**: {value}" for name, value in facts),
        f"- **load average at start**: {shown_load(start_load)}. {load_note(start_load)} "
        "Each section gives the load at its own start.",
        f"- **benchmarks**: {', '.join(o.benchmark.name for o in outcomes) or 'none yet'}"
        + (f"; not present, not run: {', '.join(skipped)}" if skipped else "")
        + (f"; **failed**: {', '.join(failed)}" if failed else ""),
        "",
    ]
    for n, outcome in enumerate(outcomes):
        earlier = {o.benchmark.name: o.stdout for o in outcomes[:n] if not o.failed}
        lines.append(section(outcome, earlier))
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", action="store_true", help="also run bench/cluster.sh")
    parser.add_argument("--only", help="comma-separated names: apply,feeds,radicale,...")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    options = parser.parse_args()
    selected = benchmarks(options.cluster)
    if options.only:
        wanted = set(options.only.split(","))
        unknown = wanted - {b.name for b in selected}
        if unknown:
            parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
        selected = [b for b in selected if b.name in wanted]
    present = [b for b in selected if (BENCH / b.script).exists()]
    skipped = [b.script for b in selected if b not in present]
    started, start_load = dt.datetime.now(dt.UTC), load()
    facts = machine()
    print(f"run_all: {len(present)} benchmarks, report in {options.out}")
    for name, value in [*facts, ("load average", shown_load(start_load))]:
        print(f"  {name}: {value}")
    if skipped:
        print(f"  not present: {', '.join(skipped)}")
    outcomes: list[Outcome] = []
    for benchmark in present:
        outcomes.append(run(benchmark))
        options.out.write_text(report(started, start_load, facts, outcomes, skipped, False))
    options.out.write_text(report(started, start_load, facts, outcomes, skipped, True))
    failed = [o.benchmark.name for o in outcomes if o.failed]
    summary = {o.benchmark.name: "failed" if o.failed else "ok" for o in outcomes}
    print(f"\nrun_all: {json.dumps(summary)}; report written to {options.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
