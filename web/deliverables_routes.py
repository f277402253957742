"""The deliverables matrix (`/ops/deliverables`), sortable by any column, and its CSV download."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from accel.deliverables import deliverable_matrix
from accel.people_queries import load_cities
from web.auth import OperatorSession
from web.deliverables_table import (
    MatrixCity,
    MatrixColumn,
    MatrixRow,
    build_matrix,
    matrix_csv,
    short_local,
    sort_matrix,
)
from web.operator_pages import OperatorPages
from web.page_context import Dashboard
from web.pages import not_found
from web.timeline_svg import STATUS_LABELS


def deliverables_router(dashboard: Dashboard) -> APIRouter:
    router = APIRouter()
    operator = Depends(dashboard.require_operator)
    pages = OperatorPages(dashboard)

    @router.get("/ops/deliverables")
    def deliverables_page(
        session: OperatorSession = operator,
        cohort: str | None = None,
        sort: str = "city",
        direction: Annotated[str, Query(alias="dir")] = "asc",
    ) -> Response:
        now = dashboard.clock()
        with dashboard.engine.connect() as connection:
            cohort_id, cohorts = pages.pick_cohort(connection, cohort)
            if cohort_id is None:
                return pages.no_cohort(cohort)
            columns, matrix_rows = _matrix(connection, cohort_id, now)
        if sort != "city" and sort not in {c.deliverable for c in columns}:
            sort = "city"
        descending = direction == "desc"
        matrix_rows = sort_matrix(matrix_rows, by=sort, descending=descending)
        return pages.render(
            "deliverables.html",
            session,
            cohort_id,
            cohorts,
            columns=columns,
            rows=matrix_rows,
            sort=sort,
            descending=descending,
            status_labels=STATUS_LABELS,
            short_local=short_local,
        )

    @router.get("/ops/deliverables.csv")
    def deliverables_csv(
        session: OperatorSession = operator, cohort: str | None = None
    ) -> Response:
        now = dashboard.clock()
        with dashboard.engine.connect() as connection:
            cohort_id, _ = pages.pick_cohort(connection, cohort)
            if cohort_id is None:
                return not_found()
            columns, matrix_rows = _matrix(connection, cohort_id, now)
        body = matrix_csv(columns, sort_matrix(matrix_rows, by="city", descending=False))
        filename = f"{cohort_id}-deliverables-{now:%Y-%m-%d}.csv"
        return Response(
            body.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{_ascii(filename)}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return router


def _matrix(
    connection: sa.Connection, cohort_id: str, now: dt.datetime
) -> tuple[list[MatrixColumn], list[MatrixRow]]:
    """The cohort's cities × deliverables, statuses at `now`, in the cities' stored order."""
    cities = [
        MatrixCity(c.id, c.name, c.timezone) for c in load_cities(connection, cohort_id=cohort_id)
    ]
    return build_matrix(cities, deliverable_matrix(connection, cohort_id=cohort_id, now=now))


def _ascii(text: str) -> str:
    return "".join(c if c.isascii() and c not in '"\\' else "_" for c in text)
