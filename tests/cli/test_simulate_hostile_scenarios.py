"""Issue 16, item 5: `accel simulate --scenario` reads scenarios as safely as the other files.

The bad corpus (tests/data/bad/) runs `validate` and `apply`, which take no scenario, so the
hostile scenarios are here: devices, FIFOs, folders and oversized files are refused before
they are read; events the cohort cannot carry out are one line naming the scenario file and
the event, exit 2, no traceback.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accel.inputs import display_path
from cli.main import app
from tests.conftest import SMALL_COHORT

runner = CliRunner()
SUMMARY = re.compile(r"^\d+ error\(s\): (nothing was simulated|the simulation stopped there .*)\.$")


def simulate(scenario: Path, out: Path) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        [
            "simulate",
            "--cohort",
            str(SMALL_COHORT),
            "--scenario",
            str(scenario),
            "--from",
            "2024-05-01",
            "--until",
            "2024-05-20",
            "--out",
            str(out),
        ],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, result.stdout, result.stderr


def check(exit_code: int, stdout: str, stderr: str, file: str, place: str, words: str) -> None:
    assert exit_code == 2, stderr
    assert "Traceback" not in stderr + stdout
    lines = stderr.splitlines()
    assert lines and SUMMARY.match(lines[-1]), stderr
    file = display_path(Path(file))
    prefix = f"{file}: {place}: " if place else f"{file}: "
    assert any(line.startswith(prefix) and words in line for line in lines[:-1]), stderr


def test_dev_zero_is_refused_before_it_is_read(tmp_path: Path) -> None:
    code, out, err = simulate(Path("/dev/zero"), tmp_path / "out")
    check(code, out, err, "/dev/zero", "", "not a regular file")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    # Were the FIFO opened, this writer would let the test end instead of hanging.
    rescue = threading.Timer(20, lambda: fifo.open("wb").close())
    rescue.start()
    try:
        code, out, err = simulate(fifo, tmp_path / "out")
    finally:
        rescue.cancel()
    check(code, out, err, str(fifo), "", "not a regular file")


def test_a_folder_is_refused(tmp_path: Path) -> None:
    code, out, err = simulate(tmp_path, tmp_path / "out")
    check(code, out, err, str(tmp_path), "", "not a regular file")


def test_an_oversized_scenario_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"events: []\n" + b"# padding\n" * 200_000)
    code, out, err = simulate(big, tmp_path / "out")
    check(code, out, err, str(big), "", "bytes; the limit is 1,000,000")


EVENTS = {
    "missing-cohort": (
        "{at: 2024-05-02T12:00:00Z, action: apply_cohort, cohort: no-such-cohort.yaml}",
        "events[1].cohort",
        "the cohort file named here cannot be used",
    ),
    "pattern-matching-nothing": (
        "{at: 2024-05-02T12:00:00Z, action: cancel_session, session: test-small/nothing/*}",
        "events[1].session",
        "no session of test-small matches 'test-small/nothing/*'",
    ),
    "unknown-city": (
        "{at: 2024-05-02T12:00:00Z, action: submit_deliverable, city: atlantis, deliverable: roster}",
        "events[1].city",
        "no city 'atlantis' in test-small",
    ),
    "unknown-deliverable": (
        "{at: 2024-05-02T12:00:00Z, action: submit_deliverable, city: santiago, deliverable: x}",
        "events[1].deliverable",
        "no deliverable 'x' for 'santiago'",
    ),
    "year-9999-move": (
        "{at: 2024-05-02T12:00:00Z, action: move_session, session: test-small/masterclass/01, "
        "to: 9999-12-31T23:00:00Z}",
        "events[1].session",
        "outside the dates a program may use",
    ),
}


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_an_event_the_cohort_cannot_carry_out_is_a_problem_at_its_place(
    tmp_path: Path, name: str
) -> None:
    event, place, words = EVENTS[name]
    scenario = tmp_path / f"{name}.yaml"
    # A harmless first event, later than the bad one: the place is the file's, not the order's.
    scenario.write_text(
        "events:\n"
        "  - {at: 2024-05-10T12:00:00Z, action: cancel_session, session: test-small/masterclass/02}\n"
        f"  - {event}\n"
    )
    code, out, err = simulate(scenario, tmp_path / "out")
    check(code, out, err, str(scenario), place, words)
