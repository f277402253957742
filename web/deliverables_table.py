"""The cities × deliverables matrix: its columns, sorting, and CSV export; no I/O."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from accel.csv_cells import spreadsheet_cell
from accel.deliverables import DeliverableRow, DeliverableStatus
from models.timezones import load_zone

# Sorting by a deliverable puts what needs attention first.
STATUS_ORDER: Final[dict[str, int]] = {
    DeliverableStatus.OVERDUE: 0,
    DeliverableStatus.DUE_SOON: 1,
    DeliverableStatus.UPCOMING: 2,
    DeliverableStatus.SUBMITTED_LATE: 3,
    DeliverableStatus.SUBMITTED: 4,
    DeliverableStatus.CANCELLED: 5,
}
CSV_COLUMNS: Final = (
    "city_id",
    "city",
    "deliverable",
    "title",
    "status",
    "due_at_utc",
    "due_local",
    "submitted_at_utc",
    "link",
)


@dataclass(frozen=True)
class MatrixCity:
    id: str
    name: str
    timezone: str


@dataclass(frozen=True)
class MatrixColumn:
    deliverable: str
    title: str


@dataclass(frozen=True)
class MatrixRow:
    city: MatrixCity
    cells: Mapping[str, DeliverableRow]  # by deliverable id


def build_matrix(
    cities: Sequence[MatrixCity], rows: Sequence[DeliverableRow], *, language: str = "en"
) -> tuple[list[MatrixColumn], list[MatrixRow]]:
    """Columns in order of their earliest due date; a row per city, in the order given."""
    first_due: dict[str, dt.datetime] = {}
    titles: dict[str, str] = {}
    cells: dict[str, dict[str, DeliverableRow]] = {}
    for row in rows:
        if row.deliverable not in first_due or row.due_at < first_due[row.deliverable]:
            first_due[row.deliverable] = row.due_at
        titles.setdefault(row.deliverable, row.title.get(language) or row.title.get("en", ""))
        cells.setdefault(row.city_id, {})[row.deliverable] = row
    order = sorted(first_due, key=lambda d: (first_due[d], d))
    columns = [MatrixColumn(d, titles[d]) for d in order]
    return columns, [MatrixRow(city, cells.get(city.id, {})) for city in cities]


def sort_matrix(rows: Sequence[MatrixRow], *, by: str, descending: bool) -> list[MatrixRow]:
    """By city name (`by="city"`), or by a deliverable's status, then due date, then city."""
    if by == "city":
        return sorted(rows, key=lambda r: (r.city.name.casefold(), r.city.id), reverse=descending)
    present = [r for r in rows if by in r.cells]
    absent = [r for r in rows if by not in r.cells]  # always last, whatever the direction
    present.sort(
        key=lambda r: (
            STATUS_ORDER.get(r.cells[by].status, len(STATUS_ORDER)),
            r.cells[by].due_at,
            r.city.name.casefold(),
        ),
        reverse=descending,
    )
    return present + absent


def matrix_csv(columns: Sequence[MatrixColumn], rows: Sequence[MatrixRow]) -> str:
    """One line per city and deliverable; instants in UTC (ISO 8601) and in the city's time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        for column in columns:
            cell = row.cells.get(column.deliverable)
            if cell is None:
                continue
            writer.writerow(
                # Names, titles and links are typed by people: none may run as a formula.
                spreadsheet_cell(value)
                for value in (
                    row.city.id,
                    row.city.name,
                    column.deliverable,
                    column.title,
                    cell.status.value,
                    _iso(cell.due_at),
                    short_local(cell.due_at, row.city.timezone),
                    _iso(cell.submitted_at) if cell.submitted_at else "",
                    cell.link or "",
                )
            )
    return out.getvalue()


def short_local(instant: dt.datetime, zone: str) -> str:
    """A compact local date and time for tables.

    >>> short_local(dt.datetime(2024, 9, 18, 20, tzinfo=dt.UTC), "America/Santiago")
    '2024-09-18 17:00'
    """
    return instant.astimezone(load_zone(zone)).strftime("%Y-%m-%d %H:%M")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
