"""The outbox page (`/ops/outbox`): the week's pending mail and the failed messages, retried
one at a time."""

from __future__ import annotations

import urllib.parse
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from starlette.responses import RedirectResponse, Response

from accel.outbox_queries import message_cohort, outbox_summary
from accel.people_queries import load_cities
from mail.outbox_queries import retry_failed
from models.outbox import MessageKind
from web.auth import OperatorSession
from web.operator_pages import OperatorPages
from web.page_context import Dashboard
from web.response_headers import DatabaseId


def outbox_router(dashboard: Dashboard) -> APIRouter:
    router = APIRouter()
    operator = Depends(dashboard.require_operator)
    pages = OperatorPages(dashboard)

    @router.get("/ops/outbox")
    def outbox_page(
        session: OperatorSession = operator,
        cohort: str | None = None,
        retried: int | None = None,
    ) -> Response:
        now = dashboard.clock()
        with dashboard.engine.connect() as connection:
            cohort_id, cohorts = pages.pick_cohort(connection, cohort)
            if cohort_id is None:
                return pages.no_cohort(cohort)
            cities = {c.id: c.name for c in load_cities(connection, cohort_id=cohort_id)}
            summary = outbox_summary(connection, cohort_id=cohort_id, now=now)
        order = {k.value: n for n, k in enumerate(MessageKind)}
        kinds = sorted({kind for _, kind in summary.counts}, key=lambda k: (order.get(k, 99), k))
        city_ids = sorted(
            {city for city, _ in summary.counts},
            key=lambda c: (c is None, cities.get(c or "", c or "")),
        )
        return pages.render(
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
        message_id: DatabaseId,
        session: OperatorSession = operator,
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        dashboard.require_csrf(session, csrf_token)
        with dashboard.engine.begin() as connection:
            cohort_id = message_cohort(connection, message_id=message_id)
            problem = retry_failed(connection, message=message_id, now=dashboard.clock())
        if problem is not None:
            return dashboard.message(409, "Not retried", f"Nothing was changed: {problem}.")
        query = urllib.parse.urlencode({"cohort": cohort_id, "retried": message_id})
        return RedirectResponse(f"/ops/outbox?{query}", status_code=303)

    return router
