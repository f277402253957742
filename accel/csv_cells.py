"""Cells for CSV files that people open in spreadsheets: text never runs as a formula."""

from __future__ import annotations

from typing import Final

# OWASP "CSV injection": a cell starting with one of these is read as a formula (or, for tab
# and CR, may become one once a spreadsheet trims it).
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """`value` as a spreadsheet shows it and never evaluates it: text that could start a formula
    gets a leading single quote; numbers and other values are left as they are.

    >>> print(spreadsheet_cell('=HYPERLINK("http://x")'))
    '=HYPERLINK("http://x")
    >>> spreadsheet_cell("-1"), spreadsheet_cell("@SUM(A1)"), spreadsheet_cell(-1)
    ("'-1", "'@SUM(A1)", -1)
    >>> spreadsheet_cell("https://x"), spreadsheet_cell(""), spreadsheet_cell(None)
    ('https://x', '', None)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return f"'{value}"
    return value
