"""The web app: feeds (`GET /calendars/<token>.ics`, ETag/Last-Modified), `/healthz`, and the dashboard."""

from __future__ import annotations

import copy
import datetime as dt
import email.utils
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import uvicorn
import uvicorn.config
from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from accel.database import create_schema, make_engine
from accel.feed_source import load_feed_source
from accel.feed_store import BuiltFeed, build_city_feed, build_person_feed, feed_version
from accel.feed_tokens import FeedSubject, find_subject, is_well_formed
from accel.health import ping_database
from accel.settings import Settings
from web.access_log import RedactedAccessLog, redact_uvicorn_access_log
from web.dashboard import mount_dashboard
from web.feed_cache import FeedCache
from web.log_limits import limit_repeated_logs
from web.response_headers import install as install_response_headers
from web.slow_clients import SlowClientLimits, bounded_protocol, raise_file_limit

CALENDAR_TYPE = "text/calendar; charset=utf-8"
CACHE_CONTROL = "private, max-age=300"
NOT_FOUND_BODY = b"Not Found\n"
KEEP_ALIVE_SECONDS = 5  # an idle kept-alive connection is closed after this
MAX_REQUEST_HEAD_BYTES = 16 * 1024  # request line and headers; larger is a 400 (h11's default)

Clock = Callable[[], dt.datetime]


def create_app(
    settings: Settings | None = None,
    *,
    engine: sa.Engine | None = None,
    clock: Clock | None = None,
    access_log: bool = True,
) -> FastAPI:
    """The ASGI app. `engine` and `clock` are swappable (tests pass a fixed clock)."""
    settings = settings or Settings()
    if engine is None:
        engine = make_engine(settings.database_url.get_secret_value())
        create_schema(engine)
    db: sa.Engine = engine
    read_clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))
    cache = FeedCache()
    # No /docs or /openapi.json: nothing about the service is public beyond the feeds.
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.feed_cache = cache

    @app.exception_handler(StarletteHTTPException)
    def _http_error(_request: Request, error: StarletteHTTPException) -> Response:
        # Every 404 looks the same, whether the path, the token or the subject was unknown.
        if error.status_code == 404:
            return not_found()
        return Response(status_code=error.status_code, headers=error.headers)

    @app.get("/healthz")
    def healthz() -> Response:
        with db.connect() as connection:
            ping_database(connection)
        return Response(b"ok\n", media_type="text/plain; charset=utf-8")

    @app.api_route("/calendars/{token}.ics", methods=["GET", "HEAD"])
    def calendar(token: str, request: Request) -> Response:
        # A sync endpoint: FastAPI runs it in a worker thread, so database reads do not block.
        if not is_well_formed(token):
            return not_found()
        with db.connect() as connection:
            subject = find_subject(connection, token=token)
            if subject is None:
                return not_found()
            version = feed_version(
                connection,
                cohort_id=subject.cohort_id,
                subject_type=subject.subject_type,
                subject=subject.subject,
            )
            now = read_clock()
            feed = cache.get_or_build(
                subject, version, now, lambda: _build(connection, subject, now)
            )
        if feed is None:
            return not_found()
        headers = validators(feed)
        if not_modified(request, feed):
            return Response(status_code=304, headers=headers)
        return Response(feed.body, media_type=CALENDAR_TYPE, headers=headers)

    # The operations dashboard (/ops/), personal pages (/me/, /city/) and their static files.
    mount_dashboard(app, settings=settings, engine=db, clock=read_clock)

    install_response_headers(app, public_base_url=settings.public_base_url)
    if access_log:
        app.add_middleware(RedactedAccessLog)
    return app


def server_config(
    app: FastAPI,
    *,
    host: str,
    port: int,
    log_config: dict[str, Any] | None,
    limits: SlowClientLimits | None = None,
) -> uvicorn.Config:
    """How `accel web` runs the app: one worker, and uvicorn's access log off (it logs paths,
    so tokens); `RedactedAccessLog` logs instead. `log_config=None` leaves logging alone.

    Slow clients are bounded (`web/slow_clients.py`: a deadline per request, a connection cap
    and backlog that fit the file limit), repeated warnings are limited (`web/log_limits.py`),
    and there are no WebSockets to upgrade to."""
    # Off is not enough: a handler added later (pytest's, an operator's) would revive it.
    redact_uvicorn_access_log()
    limit_repeated_logs()
    if limits is None:
        raise_file_limit()
        limits = SlowClientLimits.for_this_process()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=1,
        access_log=False,
        log_config=log_config,
        http=bounded_protocol(limits),
        ws="none",
        backlog=limits.backlog,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
    )


def log_config() -> dict[str, Any]:
    """uvicorn's logging setup, plus our redacted access log on the same handler."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["accel.web"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _build(connection: sa.Connection, subject: FeedSubject, now: dt.datetime) -> BuiltFeed | None:
    source = load_feed_source(connection, cohort_id=subject.cohort_id)
    if source is None:
        return None
    if subject.subject_type == "person":
        return build_person_feed(connection, source=source, email=subject.subject, now=now)
    return build_city_feed(connection, source=source, city_id=subject.subject, now=now)


def not_found() -> Response:
    return Response(NOT_FOUND_BODY, status_code=404, media_type="text/plain; charset=utf-8")


def validators(feed: BuiltFeed) -> dict[str, str]:
    headers = {"ETag": feed.etag, "Cache-Control": CACHE_CONTROL}
    if feed.last_modified is not None:
        headers["Last-Modified"] = http_date(feed.last_modified)
    return headers


def http_date(moment: dt.datetime) -> str:
    """RFC 9110 IMF-fixdate.

    >>> http_date(dt.datetime(2024, 5, 1, 12, 30, 5, 999, tzinfo=dt.UTC))
    'Wed, 01 May 2024 12:30:05 GMT'
    """
    return email.utils.format_datetime(moment.astimezone(dt.UTC), usegmt=True)


def not_modified(request: Request, feed: BuiltFeed) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present; If-Modified-Since only without it."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or feed.etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is None or feed.last_modified is None:
        return False
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unreadable date is ignored, as RFC 9110 says
    if since.tzinfo is None:
        return False
    # HTTP dates have whole seconds: compare at that resolution.
    return since >= feed.last_modified.replace(microsecond=0)
