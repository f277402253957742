"""Mounts the operations dashboard and the personal pages on the app."""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa
from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from accel.settings import Settings
from web.auth import OperatorAuth
from web.city_routes import city_router
from web.deliverables_routes import deliverables_router
from web.login_routes import login_router
from web.outbox_routes import outbox_router
from web.page_context import Clock, Dashboard, PageInterrupt
from web.pages import STATIC, Pages
from web.personal_routes import personal_router
from web.timeline_routes import timeline_router

_TOKEN_PATH = re.compile(r"^/(me|city)/[^/?#]*", re.DOTALL)


class RedactPageTokens(logging.Filter):
    """Keeps the personal pages' tokens (/me/…, /city/…) out of the access log, like feed tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_PATH.sub(r"/\1/<redacted>", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def mount_dashboard(app: FastAPI, *, settings: Settings, engine: sa.Engine, clock: Clock) -> None:
    """Add the static files, the login, the operator pages and the personal pages to `app`."""
    dashboard = Dashboard(engine, clock, settings, OperatorAuth.from_settings(settings), Pages())
    app.state.dashboard = dashboard

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def root() -> Response:
        # The dashboard is the site's front page; 307 keeps the method and is never cached
        # for good, so the root stays free for a page of its own later.
        return RedirectResponse("/ops/", status_code=307)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(login_router(dashboard))
    for operator_router in (timeline_router, deliverables_router, outbox_router, city_router):
        app.include_router(operator_router(dashboard))
    app.include_router(personal_router(dashboard))

    async def _interrupted(_request: Request, error: Exception) -> Response:
        assert isinstance(error, PageInterrupt)
        return error.response

    app.add_exception_handler(PageInterrupt, _interrupted)
    for name in ("accel.web", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactPageTokens) for f in logger.filters):
            logger.addFilter(RedactPageTokens())
