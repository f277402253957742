"""The operator login form (`/ops/login`) and logout, both behind CSRF tokens."""

from __future__ import annotations

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
from web.page_context import Dashboard


def login_router(dashboard: Dashboard) -> APIRouter:
    router = APIRouter()
    auth = dashboard.auth

    def login_form(next_path: str, *, status_code: int = 200, error: str | None = None) -> Response:
        cookie, token = auth.new_login_token()
        response = dashboard.pages.render(
            "login.html",
            status_code=status_code,
            csrf_token=token,
            next_path=safe_next(next_path),
            error=error,
        )
        auth.set_cookie(response, LOGIN_COOKIE, cookie, LOGIN_MAX_AGE)
        return response

    def disabled() -> Response:
        return dashboard.message(503, "Operator pages disabled", DISABLED_MESSAGE)

    @router.get("/ops/login")
    def show_login(
        request: Request, next_path: Annotated[str, Query(alias="next")] = "/ops/"
    ) -> Response:
        if not auth.enabled:
            return disabled()
        if auth.read_session(request.cookies.get(SESSION_COOKIE)) is not None:
            return RedirectResponse(safe_next(next_path), status_code=303)
        return login_form(next_path)

    @router.post("/ops/login")
    def log_in(
        request: Request,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
        next_path: Annotated[str, Form(alias="next")] = "/ops/",
    ) -> Response:
        if not auth.enabled:
            return disabled()
        expected = auth.read_login_token(request.cookies.get(LOGIN_COOKIE))
        if expected is None or not tokens_match(csrf_token, expected):
            return login_form(
                next_path,
                status_code=403,
                error="The form expired or was not sent from this page. Please log in again.",
            )
        if not auth.check_credentials(username, password):
            return login_form(next_path, status_code=401, error="Wrong username or password.")
        value, _session = auth.new_session(username)
        response = RedirectResponse(safe_next(next_path), status_code=303)
        auth.set_cookie(response, SESSION_COOKIE, value, SESSION_MAX_AGE)
        auth.clear_cookie(response, LOGIN_COOKIE)
        return response

    # A default, not `Annotated`: these annotations are strings, resolved in module globals.
    operator = Depends(dashboard.require_operator)

    @router.post("/ops/logout")
    def log_out(
        csrf_token: Annotated[str, Form()] = "",
        session: OperatorSession = operator,
    ) -> Response:
        dashboard.require_csrf(session, csrf_token)
        response = RedirectResponse("/ops/login", status_code=303)
        auth.clear_cookie(response, SESSION_COOKIE)
        return response

    return router
