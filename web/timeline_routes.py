"""The cohort timeline page (`/ops/`, `/ops/cohorts/<id>`): every city's row, filtered."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from markupsafe import Markup
from starlette.responses import Response

from accel.deliverables import DeliverableRow, DeliverableStatus, deliverable_matrix
from accel.people_queries import load_cities
from accel.session_queries import city_sessions
from models.enums import SessionKind
from web.auth import OperatorSession
from web.operator_pages import OperatorPages
from web.page_context import Dashboard
from web.timeline_rows import chart_window, timeline_row
from web.timeline_svg import KIND_LABELS, legend_svg, timeline_svg

KINDS = tuple(k.value for k in SessionKind)
LEGEND_STATUSES = tuple(s.value for s in DeliverableStatus)


def timeline_router(dashboard: Dashboard) -> APIRouter:
    router = APIRouter()
    operator = Depends(dashboard.require_operator)
    pages = OperatorPages(dashboard)

    @router.get("/ops/")
    def timeline_default(
        session: OperatorSession = operator,
        cohort: str | None = None,  # the cohort picker's choice; else the latest applied
        city: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
        kind: Annotated[list[str], Query()] = [],  # noqa: B006
    ) -> Response:
        return timeline_page(pages, session, cohort or None, city, kind)

    @router.get("/ops/cohorts/{cohort}")
    def timeline_of(
        cohort: str,
        session: OperatorSession = operator,
        city: Annotated[list[str], Query()] = [],  # noqa: B006
        kind: Annotated[list[str], Query()] = [],  # noqa: B006
    ) -> Response:
        return timeline_page(pages, session, cohort, city, kind)

    return router


def timeline_page(
    pages: OperatorPages,
    session: OperatorSession,
    cohort: str | None,
    cities: list[str],
    kinds: list[str],
) -> Response:
    """The chosen cities' rows (all when none is chosen), showing only the chosen kinds."""
    dashboard = pages.dashboard
    now = dashboard.clock()
    with dashboard.engine.connect() as connection:
        cohort_id, cohorts = pages.pick_cohort(connection, cohort)
        if cohort_id is None:
            return pages.no_cohort(cohort)
        every_city = load_cities(connection, cohort_id=cohort_id)
        sessions = city_sessions(connection, cohort_id=cohort_id)
        deliverables = deliverable_matrix(connection, cohort_id=cohort_id, now=now)
    # The window comes from everything stored, so filtering never rescales the months.
    start, end = chart_window([s for ss in sessions.values() for s in ss], deliverables, now)
    chosen = [c for c in every_city if not cities or c.id in cities]
    wanted_kinds = [k for k in kinds if k]
    by_city: dict[str, list[DeliverableRow]] = {}
    for row in deliverables:
        by_city.setdefault(row.city_id, []).append(row)
    rows = [
        timeline_row(
            city,
            cohort_id,
            [s for s in sessions.get(city.id, []) if not wanted_kinds or s.kind in wanted_kinds],
            by_city.get(city.id, []),
        )
        for city in chosen
    ]
    svg = timeline_svg(rows, start=start, end=end, now=now, title=f"{cohort_id}: timeline")
    return pages.render(
        "timeline.html",
        session,
        cohort_id,
        cohorts,
        svg=Markup(svg),  # noqa: S704 - built by timeline_svg, which escapes every text
        legend=Markup(legend_svg(KINDS, LEGEND_STATUSES)),  # noqa: S704 - likewise
        every_city=every_city,
        chosen_cities=cities,
        kinds=[(k, KIND_LABELS[k]) for k in KINDS],
        chosen_kinds=wanted_kinds,
        shown=len(rows),
        window=(start, end - dt.timedelta(days=1)),  # the last month shown
        # The dashed "today" line is drawn only inside the chart: say where now is instead.
        now_outside=None if start <= now <= end else ("before" if now < start else "after"),
    )
