"""The operator login form (`/ops/login`) and logout, both behind CSRF tokens; failed logins
are limited per client address (`web/login_throttle.py`)."""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from web.auth import (
    DISABLED_MESSAGE,
    LOGIN_COOKIE,
    LOGIN_MAX_AGE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    OperatorSession,
    safe_next,
    tokens_match,
)
from web.login_throttle import LoginThrottle, client_key
from web.page_context import Dashboard

logger = logging.getLogger("accel.web")


def login_router(dashboard: Dashboard) -> APIRouter:
    router = APIRouter()
    settings = dashboard.settings
    login = LoginPages(
        dashboard,
        LoginThrottle(
            max_failures=settings.login_max_failures,
            window=dt.timedelta(seconds=settings.login_failure_window_seconds),
            clock=dashboard.clock,
        ),
    )

    @router.get("/ops/login")
    def show_login(
        request: Request, next_path: Annotated[str, Query(alias="next")] = "/ops/"
    ) -> Response:
        return login.show(request, next_path)

    @router.post("/ops/login")
    def log_in(
        request: Request,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
        next_path: Annotated[str, Form(alias="next")] = "/ops/",
    ) -> Response:
        return login.attempt(request, username, password, csrf_token, next_path)

    # A default, not `Annotated`: these annotations are strings, resolved in module globals.
    operator = Depends(dashboard.require_operator)

    @router.post("/ops/logout")
    def log_out(
        csrf_token: Annotated[str, Form()] = "",
        session: OperatorSession = operator,
    ) -> Response:
        dashboard.require_csrf(session, csrf_token)
        response = RedirectResponse("/ops/login", status_code=303)
        dashboard.auth.clear_cookie(response, SESSION_COOKIE)
        return response

    return router


@dataclass(frozen=True)
class LoginPages:
    """The login form and every answer to a login attempt, failures counted by `throttle`."""

    dashboard: Dashboard
    throttle: LoginThrottle

    def show(self, request: Request, next_path: str) -> Response:
        """The form; straight on to `next_path` for an operator already logged in."""
        auth = self.dashboard.auth
        if not auth.enabled:
            return self.disabled()
        if auth.read_session(request.cookies.get(SESSION_COOKIE)) is not None:
            return RedirectResponse(safe_next(next_path), status_code=303)
        return self.form(next_path)

    def attempt(
        self, request: Request, username: str, password: str, csrf_token: str, next_path: str
    ) -> Response:
        """Log in, or the form again saying why not (throttled, expired form, wrong password)."""
        if not self.dashboard.auth.enabled:
            return self.disabled()
        # Behind a reverse proxy on this machine, uvicorn puts X-Forwarded-For's client here.
        client = client_key(request.client.host) if request.client else "unknown"
        refused = self._refused(request, client, csrf_token, next_path)
        if refused is not None:
            return refused
        if not self.dashboard.auth.check_credentials(username, password):
            self._log_when_throttled(client)
            return self.form(next_path, status_code=401, error="Wrong username or password.")
        self.throttle.clear(client)
        return self._logged_in(username, next_path)

    def _refused(
        self, request: Request, client: str, csrf_token: str, next_path: str
    ) -> Response | None:
        """The answer to an attempt refused before the password is even looked at, if it is."""
        throttle = self.throttle
        wait = throttle.retry_after(client)
        if wait is not None:
            return self.must_wait(next_path, wait)
        expected = self.dashboard.auth.read_login_token(request.cookies.get(LOGIN_COOKIE))
        if expected is None or not tokens_match(csrf_token, expected):
            return self.form(
                next_path,
                status_code=403,
                error="The form expired or was not sent from this page. Please log in again.",
            )
        wait = throttle.start_attempt(client)  # counted as a failure until it succeeds
        if wait is not None:  # parallel attempts reached the limit meanwhile
            return self.must_wait(next_path, wait)
        return None

    def _log_when_throttled(self, client: str) -> None:
        throttle = self.throttle
        if throttle.retry_after(client) is not None:
            logger.warning(
                "operator login: %d failed attempts from %s in the last %.0f s; "
                "its logins are refused (429) for now",
                throttle.max_failures,
                client,
                throttle.window.total_seconds(),
            )

    def _logged_in(self, username: str, next_path: str) -> Response:
        auth = self.dashboard.auth
        value, _session = auth.new_session(username)
        response = RedirectResponse(safe_next(next_path), status_code=303)
        auth.set_cookie(response, SESSION_COOKIE, value, SESSION_MAX_AGE)
        auth.clear_cookie(response, LOGIN_COOKIE)
        return response

    def form(self, next_path: str, *, status_code: int = 200, error: str | None = None) -> Response:
        """The login form with a fresh CSRF token (its signed copy in a cookie)."""
        auth = self.dashboard.auth
        cookie, token = auth.new_login_token()
        response = self.dashboard.pages.render(
            "login.html",
            status_code=status_code,
            csrf_token=token,
            next_path=safe_next(next_path),
            error=error,
        )
        auth.set_cookie(response, LOGIN_COOKIE, cookie, LOGIN_MAX_AGE)
        return response

    def must_wait(self, next_path: str, seconds: int) -> Response:
        response = self.form(next_path, status_code=429, error=too_many_failures(seconds))
        response.headers["Retry-After"] = str(seconds)
        return response

    def disabled(self) -> Response:
        return self.dashboard.message(503, "Operator pages disabled", DISABLED_MESSAGE)


def too_many_failures(wait_seconds: int) -> str:
    """What the login page says to a client that must wait.

    >>> too_many_failures(40)
    'Too many failed logins from your address. Please wait 40 seconds, then try again.'
    >>> [too_many_failures(s).split(" wait ")[1] for s in (1, 60, 61, 900)]
    ['1 second, then try again.', '1 minute, then try again.', '2 minutes, then try again.', '15 minutes, then try again.']
    """
    amount, unit = (
        (wait_seconds, "second") if wait_seconds < 60 else (math.ceil(wait_seconds / 60), "minute")
    )
    wait = f"{amount} {unit}{'' if amount == 1 else 's'}"
    return f"Too many failed logins from your address. Please wait {wait}, then try again."
