"""HTML pages: the Jinja2 environment (autoescaped), and responses with strict security headers."""

from __future__ import annotations

from typing import Any, Final

import jinja2
from starlette.responses import HTMLResponse, Response

from accel.shipped import shipped_path

TEMPLATES = shipped_path("web", "templates")
STATIC = shipped_path("web", "static")

# Everything is served from here: no CDN, no inline script, no framing, no referrer (the
# personal pages carry a secret token in their URL, which a Referer header would leak).
SECURITY_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
}


def make_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt variable fails the page, not silently
        trim_blocks=True,
        lstrip_blocks=True,
    )


class Pages:
    def __init__(self) -> None:
        self.environment = make_environment()

    def render(
        self,
        template: str,
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        body = self.environment.get_template(template).render(**context)
        return HTMLResponse(
            body, status_code=status_code, headers={**SECURITY_HEADERS, **(headers or {})}
        )


def not_found() -> Response:
    """The same 404 as the feeds (`web.app.not_found`): an unknown token looks like any bad path."""
    return Response(b"Not Found\n", status_code=404, media_type="text/plain; charset=utf-8")
