"""Headers on every response (nosniff; HSTS when the site is https), and 404 for impossible ids."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import FastAPI, Path, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.pages import not_found

# One year, as browsers' preload lists ask; no includeSubDomains: the operator's other hosts
# are not ours to commit.
HSTS: Final = "max-age=31536000"
NOSNIFF: Final = "nosniff"
MAX_DATABASE_ID: Final = 2**63 - 1  # the largest BIGINT; larger ids overflow the driver (a 500)

DatabaseId = Annotated[int, Path(ge=1, le=MAX_DATABASE_ID)]
"""A row id in a URL path: outside 1..2**63-1 (or not a number) it is a bare 404."""


def every_response_headers(public_base_url: str) -> list[tuple[bytes, bytes]]:
    """What every response carries: nosniff, and HSTS when the public URL is https.

    >>> every_response_headers("https://cal.example.org")
    [(b'x-content-type-options', b'nosniff'), (b'strict-transport-security', b'max-age=31536000')]
    >>> every_response_headers("http://127.0.0.1:8000")
    [(b'x-content-type-options', b'nosniff')]
    """
    headers = [(b"x-content-type-options", NOSNIFF.encode())]
    if public_base_url.lower().startswith("https://"):
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


class EveryResponseHeaders:
    """Pure ASGI middleware adding `headers` to each response that does not already set them:
    feeds, 304s, 404s, static files, redirects and pages alike."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                missing = [(n, v) for n, v in self.headers if n not in present]
                message["headers"] = [*message.get("headers", []), *missing]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, *, public_base_url: str) -> None:
    """Add the headers to every response (a crash's 500 too) and turn bad path values into 404s."""
    headers = every_response_headers(public_base_url)
    app.add_middleware(EveryResponseHeaders, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        # An id that cannot exist is a path that does not exist: the same bare 404 as any other.
        if any(detail.get("loc", ("",))[0] == "path" for detail in error.errors()):
            return not_found()
        return await request_validation_exception_handler(request, error)

    @app.exception_handler(Exception)
    async def _crashed(_request: Request, _error: Exception) -> Response:
        # Answered outside the middleware (Starlette's outermost layer), so the headers are
        # added here; the traceback is still logged by the server.
        return Response(
            b"Internal Server Error\n",
            status_code=500,
            media_type="text/plain; charset=utf-8",
            headers={n.decode(): v.decode() for n, v in headers},
        )
