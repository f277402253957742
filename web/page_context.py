"""What every dashboard and personal page handler shares: database, clock, access, templates."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import Request
from starlette.responses import RedirectResponse, Response

from accel.settings import Settings
from web.auth import DISABLED_MESSAGE, SESSION_COOKIE, OperatorAuth, OperatorSession, tokens_match
from web.pages import Pages

Clock = Callable[[], dt.datetime]


class PageInterrupt(Exception):  # noqa: N818 - not an error: a response that ends the request early
    """Raised by a dependency to answer at once (a redirect to the login form, a 503, a 403)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass(frozen=True)
class Dashboard:
    """What every page handler needs: the database, the clock, the settings, access and templates."""

    engine: sa.Engine
    clock: Clock
    settings: Settings
    auth: OperatorAuth
    pages: Pages

    def message(self, status_code: int, title: str, text: str) -> Response:
        return self.pages.render("message.html", status_code=status_code, title=title, text=text)

    def require_operator(self, request: Request) -> OperatorSession:
        """A FastAPI dependency: the logged-in operator, or an early answer."""
        if not self.auth.enabled:
            raise PageInterrupt(self.message(503, "Operator pages disabled", DISABLED_MESSAGE))
        session = self.auth.read_session(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            return session
        if request.method in ("GET", "HEAD"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            query = urllib.parse.urlencode({"next": target})
            raise PageInterrupt(RedirectResponse(f"/ops/login?{query}", status_code=303))
        raise PageInterrupt(self.message(401, "Not logged in", "Log in to use the operator pages."))

    def require_csrf(self, session: OperatorSession, token: str | None) -> None:
        if not tokens_match(token, session.csrf_token):
            raise PageInterrupt(
                self.message(
                    403,
                    "Form expired",
                    "This form was not sent from a page of this dashboard (its security "
                    "token is missing or old). Go back, reload the page and try again.",
                )
            )
