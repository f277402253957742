"""How long the largest files the expansion budget accepts take, and how fast it refuses.

Prints, for each file: its size, what `calendars/budget.py` counts, and the wall time of
`accel validate` and `accel apply` (each a fresh process, SQLite in a temporary folder).
The accepted files are the generated cohort with as many cities as the outbox-row budget
allows, and one coach with as many cities as the per-coach budget allows; the refused ones
are a 1 MB cohort of 2,178 cities sharing one coach and the bad corpus' 60-city file with 24
daily series. SECURITY.md quotes these numbers.

    .venv/bin/python bench/bench_budget.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.generated_cohort import generated_cohort, one_coach_cohort  # noqa: E402
from calendars.budget import (  # noqa: E402
    MAX_OUTBOX_ROWS,
    MAX_SESSIONS_PER_COACH,
    ExpansionCost,
    expansion_cost,
)
from models.file_loading import load_cohort, parse_program  # noqa: E402
from models.problems import InvalidInputError  # noqa: E402

PROGRAM = REPO / "programs" / "cda-accelerator.yaml"
ACCEL = Path(sys.executable).parent / "accel"


def cost_of(text: str) -> ExpansionCost:
    program = parse_program(PROGRAM.read_bytes(), "program")
    return expansion_cost(program, load_cohort(text.encode(), "cohort"))


def largest(make: object, fits: object, low: int, high: int) -> int:
    """The largest number of cities in [low, high] whose cohort `fits` the budgets and the
    file size limit (a bisection)."""
    assert callable(make) and callable(fits)
    while low < high:
        middle = (low + high + 1) // 2
        try:
            cost = cost_of(make(middle))
        except InvalidInputError:  # over the file size limit
            cost = None
        if cost is not None and fits(cost):
            low = middle
        else:
            high = middle - 1
    return low


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    return time.perf_counter() - start, done.returncode


def measure(name: str, cohort: Path, folder: Path, *, counted: bool = True) -> None:
    env = os.environ | {"ACCEL_DATABASE_URL": f"sqlite:///{folder / (cohort.stem + '.db')}"}
    validate, code_v = timed([str(ACCEL), "validate", "--cohort", str(cohort)], env)
    apply, code_a = timed(
        [str(ACCEL), "apply", "--cohort", str(cohort), "--now", "2024-05-01"], env
    )
    cost = cost_of(cohort.read_text()) if counted else None
    summary = (
        f"{cost.sessions:,} sessions, {cost.outbox_rows:,} outbox rows, "
        f"busiest coach {cost.coach_sessions:,} sessions"
        if cost
        else "-"
    )
    print(
        f"{name}: {cohort.stat().st_size:,} bytes; counted {summary}; "
        f"validate {validate:.1f} s (exit {code_v}), apply {apply:.1f} s (exit {code_a}), "
        f"together {validate + apply:.1f} s"
    )


def main() -> None:
    print(
        f"budgets: {MAX_OUTBOX_ROWS:,} outbox rows, {MAX_SESSIONS_PER_COACH:,} sessions per coach"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "cohorts").mkdir()
        (folder / "programs").mkdir()
        (folder / "programs" / PROGRAM.name).write_bytes(PROGRAM.read_bytes())
        most = largest(generated_cohort, lambda c: c.outbox_rows <= MAX_OUTBOX_ROWS, 1000, 3000)
        files = {
            f"largest accepted, {most} cities": generated_cohort(most),
            f"refused, {most + 1} cities": generated_cohort(most + 1),
        }
        coach_most = largest(
            one_coach_cohort, lambda c: c.coach_sessions <= MAX_SESSIONS_PER_COACH, 1, 500
        )
        files[f"one coach at the per-coach budget, {coach_most} cities"] = one_coach_cohort(
            coach_most
        )
        files["refused, 2,178 cities sharing one coach"] = one_coach_cohort(2178)
        for n, (name, text) in enumerate(files.items()):
            path = folder / "cohorts" / f"cohort-{n}.yaml"
            path.write_text(text)
            measure(name, path, folder)
        bad = REPO / "tests" / "data" / "bad" / "cohorts" / "expansion-over-budget.yaml"
        measure("refused, 60 cities with 24 daily series (bad corpus)", bad, folder, counted=False)


if __name__ == "__main__":
    main()
