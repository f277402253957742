"""Pages reached only with a secret feed token: a person's (`/me/…`) and a city team's (`/city/…`)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from accel.feed_tokens import feed_urls, find_subject, is_well_formed
from web.page_context import Dashboard
from web.page_text import page_text
from web.pages import not_found
from web.personal_pages import SubjectPage, city_page, person_page


def personal_router(dashboard: Dashboard) -> APIRouter:
    router = APIRouter()

    def page_for(token: str, subject_type: str) -> Response:
        # Checked before any database access, like the feeds; every failure is the same 404.
        if not is_well_formed(token):
            return not_found()
        now = dashboard.clock()
        page: SubjectPage | None = None
        with dashboard.engine.connect() as connection:
            subject = find_subject(connection, token=token)
            if subject is None or subject.subject_type != subject_type:
                return not_found()
            if subject_type == "person":
                page = person_page(
                    connection, cohort_id=subject.cohort_id, email=subject.subject, now=now
                )
            else:
                page = city_page(
                    connection, cohort_id=subject.cohort_id, city_id=subject.subject, now=now
                )
        if page is None:
            return not_found()
        # Only hashes are stored: the links can be shown because the reader brought the token.
        https_url, webcal_url = feed_urls(dashboard.settings.public_base_url, token)
        return dashboard.pages.render(
            "personal.html",
            page=page,
            text=page_text(page.language),
            https_url=https_url,
            webcal_url=webcal_url,
        )

    @router.get("/me/{token}")
    def personal(token: str) -> Response:
        return page_for(token, "person")

    @router.get("/city/{token}")
    def city_team(token: str) -> Response:
        return page_for(token, "city")

    return router
