"""An operator's city page (`/ops/cities/<id>`): its timeline, people, next sessions, deliverables."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from markupsafe import Markup
from starlette.responses import Response

from accel.deliverables import deliverable_matrix
from accel.people_queries import city_people, find_city
from accel.session_queries import city_sessions
from calendars.local_time import format_local_span
from web.auth import OperatorSession
from web.deliverables_table import short_local
from web.operator_pages import OperatorPages
from web.page_context import Dashboard
from web.pages import not_found
from web.timeline_rows import chart_window, timeline_row
from web.timeline_svg import KIND_LABELS, STATUS_LABELS, timeline_svg

CITY_PAGE_SESSIONS = 12


def city_router(dashboard: Dashboard) -> APIRouter:
    router = APIRouter()
    operator = Depends(dashboard.require_operator)
    pages = OperatorPages(dashboard)

    @router.get("/ops/cities/{city_id}")
    def city_page(
        city_id: str, session: OperatorSession = operator, cohort: str | None = None
    ) -> Response:
        now = dashboard.clock()
        with dashboard.engine.connect() as connection:
            cohort_id, cohorts = pages.pick_cohort(connection, cohort)
            if cohort_id is None:
                return not_found()
            city = find_city(connection, cohort_id=cohort_id, city_id=city_id)
            if city is None:
                return not_found()
            sessions = city_sessions(connection, cohort_id=cohort_id).get(city_id, [])
            people = city_people(connection, cohort_id=cohort_id, city_id=city_id)
            deliverables = [
                d
                for d in deliverable_matrix(connection, cohort_id=cohort_id, now=now)
                if d.city_id == city_id
            ]
        start, end = chart_window(sessions, deliverables, now)
        row = timeline_row(city, cohort_id, sessions, deliverables, link=False)
        svg = timeline_svg([row], start=start, end=end, now=now, title=f"{city.name}: timeline")
        upcoming = [s for s in sessions if s.ends_at > now][:CITY_PAGE_SESSIONS]
        return pages.render(
            "ops_city.html",
            session,
            cohort_id,
            cohorts,
            city=city,
            svg=Markup(svg),  # noqa: S704 - built by timeline_svg, which escapes every text
            people=people,
            sessions=[
                (s, format_local_span(s.starts_at, s.ends_at, city.timezone, "en"))
                for s in upcoming
            ],
            deliverables=deliverables,
            status_labels=STATUS_LABELS,
            kind_labels=KIND_LABELS,
            short_local=short_local,
        )

    return router
