"""An access log that never writes a feed token: the secret URL is the password."""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.printable import printable

logger = logging.getLogger("accel.web")
_SECRET_PATH = re.compile(r"^/calendars/.*", re.DOTALL)


def redacted(path: str) -> str:
    """The path as logged: anything under /calendars/ is replaced.

    >>> redacted("/calendars/abc.ics"), redacted("/healthz")
    ('/calendars/<redacted>', '/healthz')
    """
    return _SECRET_PATH.sub("/calendars/<redacted>", path)


class RedactTokens(logging.Filter):
    """A safety net on uvicorn's own access logger, should it ever get a handler again."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                printable(redacted(a)) if isinstance(a, str) else a for a in record.args
            )
        return True


def redact_uvicorn_access_log() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())


class RedactedAccessLog:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): method, redacted path, status, time.

    The query string is never logged either. Run uvicorn with `access_log=False`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            if logger.isEnabledFor(logging.INFO):
                # The path is percent-decoded: `%0a` or `%1b` in it would forge a line or reach
                # the terminal raw, so control characters are written as escapes.
                logger.info(
                    "%s %s %d %.1f ms",
                    printable(scope["method"]),
                    printable(redacted(scope["path"])),
                    status,
                    (time.perf_counter() - started) * 1000,
                )
