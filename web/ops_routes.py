"""The operator pages: cohort timeline, deliverables matrix (and CSV), outbox, city pages."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Sequence
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Query
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from accel.deliverables import DeliverableRow, DeliverableStatus, deliverable_matrix
from calendars.local_time import format_local_span
from mail.outbox_queries import retry_failed
from models.enums import SessionKind
from models.outbox import OUTBOX, MessageKind
from web.auth import OperatorSession
from web.deliverables_table import MatrixCity, build_matrix, matrix_csv, short_local, sort_matrix
from web.ops_queries import (
    CityInfo,
    city_people,
    city_sessions,
    cohort_ids,
    load_cities,
    outbox_summary,
)
from web.page_context import Dashboard
from web.pages import not_found
from web.timeline_rows import timeline_row
from web.timeline_svg import KIND_LABELS, STATUS_LABELS, legend_svg, month_window, timeline_svg

KINDS = tuple(k.value for k in SessionKind)
LEGEND_STATUSES = tuple(s.value for s in DeliverableStatus)
CITY_PAGE_SESSIONS = 12


def ops_router(dashboard: Dashboard) -> APIRouter:
    router = APIRouter()
    operator = Depends(dashboard.require_operator)

    def pick_cohort(connection: sa.Connection, cohort: str | None) -> tuple[str | None, list[str]]:
        cohorts = cohort_ids(connection)
        if cohort is None:
            return (cohorts[0] if cohorts else None), cohorts
        return (cohort if cohort in cohorts else None), cohorts

    def no_cohort(cohort: str | None) -> Response:
        if cohort is not None:
            return not_found()
        return dashboard.message(
            404, "No cohort yet", "No cohort was applied to this database: run `accel apply`."
        )

    def render(
        template: str,
        session: OperatorSession,
        cohort: str,
        cohorts: Sequence[str],
        **context: Any,
    ) -> Response:
        return dashboard.pages.render(
            template,
            csrf_token=session.csrf_token,
            operator=session.username,
            cohort=cohort,
            cohorts=cohorts,
            now=dashboard.clock(),
            **context,
        )

    def timeline(
        session: OperatorSession, cohort: str | None, cities: list[str], kinds: list[str]
    ) -> Response:
        now = dashboard.clock()
        with dashboard.engine.connect() as connection:
            cohort_id, cohorts = pick_cohort(connection, cohort)
            if cohort_id is None:
                return no_cohort(cohort)
            every_city = load_cities(connection, cohort_id=cohort_id)
            sessions = city_sessions(connection, cohort_id=cohort_id)
            deliverables = deliverable_matrix(connection, cohort_id=cohort_id, now=now)
        # The window comes from everything stored, so filtering never rescales the months.
        instants = [s.starts_at for ss in sessions.values() for s in ss]
        instants += [s.ends_at for ss in sessions.values() for s in ss]
        instants += [d.due_at for d in deliverables]
        start, end = month_window(min(instants, default=now), max(instants, default=now))
        chosen = [c for c in every_city if not cities or c.id in cities]
        wanted_kinds = [k for k in kinds if k]
        by_city: dict[str, list[DeliverableRow]] = {}
        for row in deliverables:
            by_city.setdefault(row.city_id, []).append(row)
        rows = [
            timeline_row(
                city,
                cohort_id,
                [
                    s
                    for s in sessions.get(city.id, [])
                    if not wanted_kinds or s.kind in wanted_kinds
                ],
                by_city.get(city.id, []),
            )
            for city in chosen
        ]
        svg = timeline_svg(rows, start=start, end=end, now=now, title=f"{cohort_id}: timeline")
        return render(
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

    @router.get("/ops/")
    def timeline_default(
        session: OperatorSession = operator,
        city: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
        kind: Annotated[list[str], Query()] = [],  # noqa: B006
    ) -> Response:
        return timeline(session, None, city, kind)

    @router.get("/ops/cohorts/{cohort}")
    def timeline_of(
        cohort: str,
        session: OperatorSession = operator,
        city: Annotated[list[str], Query()] = [],  # noqa: B006
        kind: Annotated[list[str], Query()] = [],  # noqa: B006
    ) -> Response:
        return timeline(session, cohort, city, kind)

    @router.get("/ops/deliverables")
    def deliverables_page(
        session: OperatorSession = operator,
        cohort: str | None = None,
        sort: str = "city",
        direction: Annotated[str, Query(alias="dir")] = "asc",
    ) -> Response:
        now = dashboard.clock()
        with dashboard.engine.connect() as connection:
            cohort_id, cohorts = pick_cohort(connection, cohort)
            if cohort_id is None:
                return no_cohort(cohort)
            cities = load_cities(connection, cohort_id=cohort_id)
            rows = deliverable_matrix(connection, cohort_id=cohort_id, now=now)
        columns, matrix_rows = build_matrix([_matrix_city(c) for c in cities], rows)
        if sort != "city" and sort not in {c.deliverable for c in columns}:
            sort = "city"
        descending = direction == "desc"
        matrix_rows = sort_matrix(matrix_rows, by=sort, descending=descending)
        return render(
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
            cohort_id, _ = pick_cohort(connection, cohort)
            if cohort_id is None:
                return not_found()
            cities = load_cities(connection, cohort_id=cohort_id)
            rows = deliverable_matrix(connection, cohort_id=cohort_id, now=now)
        columns, matrix_rows = build_matrix([_matrix_city(c) for c in cities], rows)
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

    @router.get("/ops/outbox")
    def outbox_page(
        session: OperatorSession = operator,
        cohort: str | None = None,
        retried: int | None = None,
    ) -> Response:
        now = dashboard.clock()
        with dashboard.engine.connect() as connection:
            cohort_id, cohorts = pick_cohort(connection, cohort)
            if cohort_id is None:
                return no_cohort(cohort)
            cities = {c.id: c.name for c in load_cities(connection, cohort_id=cohort_id)}
            summary = outbox_summary(connection, cohort_id=cohort_id, now=now)
        order = {k.value: n for n, k in enumerate(MessageKind)}
        kinds = sorted({kind for _, kind in summary.counts}, key=lambda k: (order.get(k, 99), k))
        city_ids = sorted(
            {city for city, _ in summary.counts},
            key=lambda c: (c is None, cities.get(c or "", c or "")),
        )
        return render(
            "outbox.html",
            session,
            cohort_id,
            cohorts,
            summary=summary,
            kinds=kinds,
            city_ids=city_ids,
            city_names=cities,
            retried=retried,
        )

    @router.post("/ops/outbox/{message_id}/retry")
    def retry(
        message_id: int,
        session: OperatorSession = operator,
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        dashboard.require_csrf(session, csrf_token)
        with dashboard.engine.begin() as connection:
            cohort_id = connection.execute(
                sa.select(OUTBOX.c.cohort_id).where(OUTBOX.c.id == message_id)
            ).scalar_one_or_none()
            problem = retry_failed(connection, message=message_id, now=dashboard.clock())
        if problem is not None:
            return dashboard.message(409, "Not retried", f"Nothing was changed: {problem}.")
        query = urllib.parse.urlencode({"cohort": cohort_id, "retried": message_id})
        return RedirectResponse(f"/ops/outbox?{query}", status_code=303)

    @router.get("/ops/cities/{city_id}")
    def city_page(
        city_id: str, session: OperatorSession = operator, cohort: str | None = None
    ) -> Response:
        now = dashboard.clock()
        with dashboard.engine.connect() as connection:
            cohort_id, cohorts = pick_cohort(connection, cohort)
            if cohort_id is None:
                return not_found()
            city = next(
                (c for c in load_cities(connection, cohort_id=cohort_id) if c.id == city_id), None
            )
            if city is None:
                return not_found()
            sessions = city_sessions(connection, cohort_id=cohort_id).get(city_id, [])
            people = city_people(connection, cohort_id=cohort_id, city_id=city_id)
            deliverables = [
                d
                for d in deliverable_matrix(connection, cohort_id=cohort_id, now=now)
                if d.city_id == city_id
            ]
        instants = [s.starts_at for s in sessions] + [s.ends_at for s in sessions]
        instants += [d.due_at for d in deliverables]
        start, end = month_window(min(instants, default=now), max(instants, default=now))
        row = timeline_row(city, cohort_id, sessions, deliverables, link=False)
        svg = timeline_svg([row], start=start, end=end, now=now, title=f"{city.name}: timeline")
        upcoming = [s for s in sessions if s.ends_at > now][:CITY_PAGE_SESSIONS]
        return render(
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


def _matrix_city(city: CityInfo) -> MatrixCity:
    return MatrixCity(city.id, city.name, city.timezone)


def _ascii(text: str) -> str:
    return "".join(c if c.isascii() and c not in '"\\' else "_" for c in text)
