"""Benchmark: what Prefect adds to `sync_cohort`, for generated cohorts of 10, 100 and 1,000 cities.

Run: .venv/bin/python bench/bench_flows.py [SIZES...] [--repeat N]   (about 10 minutes)

For each size, in one process and each time on a fresh SQLite file, it times:
- "plain": `load_inputs` + `apply_cohort` called directly (with the engine and schema set-up the
  task does too), the work without Prefect;
- "flow": the `sync_cohort` flow, run against a local Prefect API (`prefect_test_harness`).
The harness start-up is not counted. Both paths are warmed up once (imports, first API client)
on a 10-city cohort before timing; that cold first call is printed separately. Each path runs
`--repeat` times (default 3), the two taking turns to go first; the table gives the best and
the median. Both paths must produce the same plan (sessions, invitations), or it fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
Summary = tuple[int, int]  # sessions, invitations to send


def _workspace(root: Path, cities: int) -> Path:
    """A program copy and a generated cohort beside it, as an operator's checkout has them."""
    from bench.generated_cohort import generated_cohort

    (root / "cohorts").mkdir(parents=True)
    (root / "programs").mkdir()
    (root / "programs" / "cda-accelerator.yaml").write_bytes(
        (REPO / "programs" / "cda-accelerator.yaml").read_bytes()
    )
    cohort = root / "cohorts" / "bench.yaml"
    cohort.write_text(generated_cohort(cities))
    return cohort


def run_plain(cohort: Path, database: Path) -> Summary:
    from accel.database import create_schema, make_engine
    from accel.inputs import load_inputs
    from tasks.operations import apply_cohort

    engine = make_engine(f"sqlite:///{database}")
    try:
        create_schema(engine)
        plan = apply_cohort(engine, load_inputs(cohort), now=NOW)
    finally:
        engine.dispose()
    return len(plan.sessions), sum(1 for i in plan.invitations if i.notify)


def run_flow(cohort: Path, database: Path) -> Summary:
    from flows.sync_cohort import sync_cohort

    os.environ["ACCEL_DATABASE_URL"] = f"sqlite:///{database}"
    summary = sync_cohort(cohort_file=str(cohort), now=NOW)
    return summary["sessions"], summary["invitations"]


def _once(run: Callable[[Path, Path], Summary], cities: int) -> tuple[float, Summary]:
    with tempfile.TemporaryDirectory() as folder:
        cohort = _workspace(Path(folder), cities)
        started = time.perf_counter()
        result = run(cohort, Path(folder) / "bench.db")
        return time.perf_counter() - started, result


def compare(cities: int, repeat: int) -> tuple[list[float], list[float], Summary]:
    """`repeat` timings of each path, taking turns to go first (a busy machine drifts)."""
    times: dict[str, list[float]] = {"plain": [], "flow": []}
    summaries: set[Summary] = set()
    for attempt in range(repeat):
        order = [run_plain, run_flow] if attempt % 2 == 0 else [run_flow, run_plain]
        for run in order:
            seconds, summary = _once(run, cities)
            summaries.add(summary)
            times["plain" if run is run_plain else "flow"].append(seconds)
    if len(summaries) != 1:
        raise SystemExit(f"the two paths did different work: {sorted(summaries)}")
    return times["plain"], times["flow"], summaries.pop()


def _row(size: int, summary: Summary, plain: list[float], flowed: list[float]) -> str:
    cells = [f"{size:>7} {summary[0]:>9} {summary[1]:>8}"]
    for pick in (min, statistics.median):
        p, f = pick(plain), pick(flowed)
        cells.append(f"{p:>8.2f} {f:>8.2f} {f - p:>+7.2f} {100 * (f - p) / p:>+6.0f}%")
    return " |".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path per size")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        os.environ["PREFECT_HOME"] = home
        os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        os.environ.pop("PREFECT_API_URL", None)
        from prefect.testing.utilities import prefect_test_harness

        started = time.perf_counter()
        with prefect_test_harness(server_startup_timeout=90):
            print(f"harness start-up (not counted): {time.perf_counter() - started:.1f} s")
            cold_plain, _ = _once(run_plain, 10)
            cold_flow, _ = _once(run_flow, 10)
            print(f"cold first call, 10 cities: plain {cold_plain:.2f} s, flow {cold_flow:.2f} s")
            rows = []
            for size in args.sizes:
                plain, flowed, summary = compare(size, args.repeat)
                rows.append(_row(size, summary, plain, flowed))
                print(rows[-1], flush=True)  # as it goes; the table follows at the end
    print(f"\nsync_cohort: direct calls (plain) vs the Prefect flow, {args.repeat} runs each")
    print(f"{'':>26} |{'best of runs':^33} |{'median':^33}")
    header = f"{'plain s':>8} {'flow s':>8} {'extra s':>7} {'extra':>7}"
    print(f"{'cities':>7} {'sessions':>9} {'invites':>8} |{header} |{header}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
