"""Benchmark: expand and apply generated cohorts of 10, 100 and 1,000 cities (time, peak memory).

Run: .venv/bin/python bench/bench_apply.py [SIZES...]
Each size runs in a fresh process against a fresh SQLite file, so peak memory is its own.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def measure(cities: int) -> dict[str, float]:
    from accel.database import create_schema, make_engine
    from accel.inputs import load_inputs
    from bench.generated_cohort import generated_cohort
    from tasks.operations import apply_cohort

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "cohorts").mkdir()
        (root / "programs").mkdir()
        (root / "programs" / "cda-accelerator.yaml").write_bytes(
            (REPO / "programs" / "cda-accelerator.yaml").read_bytes()
        )
        cohort = root / "cohorts" / "bench.yaml"
        cohort.write_text(generated_cohort(cities))
        engine = make_engine(f"sqlite:///{root / 'bench.db'}")
        create_schema(engine)
        started = time.perf_counter()
        inputs = load_inputs(cohort)
        expanded = time.perf_counter()
        plan = apply_cohort(engine, inputs, now=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
        applied = time.perf_counter()
        again = apply_cohort(engine, inputs, now=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
        reapplied = time.perf_counter()
        assert again.is_empty
    return {
        "cities": cities,
        "sessions": len(inputs.timeline.sessions),
        "invitations": len(plan.invitations),
        "load_expand_s": expanded - started,
        "apply_s": applied - expanded,
        "total_s": applied - started,
        "reapply_noop_s": reapplied - applied,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]))))
        return
    sizes = [int(a) for a in sys.argv[1:]] or [10, 100, 1000]
    print(
        f"{'cities':>7} {'sessions':>9} {'invites':>8} {'expand s':>9} {'apply s':>8} "
        f"{'total s':>8} {'re-apply s':>10} {'peak RSS MB':>11}"
    )
    for size in sizes:
        line = subprocess.run(
            [sys.executable, __file__, "--one", str(size)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(line)
        print(
            f"{r['cities']:>7} {r['sessions']:>9} {r['invitations']:>8} {r['load_expand_s']:>9.2f} "
            f"{r['apply_s']:>8.2f} {r['total_s']:>8.2f} {r['reapply_noop_s']:>10.2f} "
            f"{r['peak_rss_mb']:>11.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
