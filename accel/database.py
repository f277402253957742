"""The database engine: SQLite file by default, any SQLAlchemy URL from settings."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

import models.feed_tokens  # registers the feed tables on SQLModel.metadata
import models.outbox  # registers the outbox tables on SQLModel.metadata
import models.rehearsal  # registers the rehearsal clock on SQLModel.metadata
import models.tables  # noqa: F401 - registers the tables on SQLModel.metadata
from accel.migrations import upgrade_schema


def make_engine(url: str) -> sa.Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and a busy timeout for concurrent use."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            _use_wal(cursor)
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


SQLITE_BUSY_SECONDS = 30.0  # as the connections' own busy timeout


def _use_wal(cursor: Any) -> None:
    """Switch a SQLite file to write-ahead logging (once: the mode is kept in the file).

    Switching needs the file to itself, and SQLite answers "database is locked" at once
    rather than waiting its busy timeout when another process holds it: processes opening a
    new file together (workers starting) then retry for up to SQLITE_BUSY_SECONDS.
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# An empty database that leaves no file behind: what a command that writes nothing reads in
# place of a SQLite file that does not exist yet (one connection per thread keeps its tables).
EMPTY_DATABASE_URL = "sqlite://"


def is_missing_sqlite_file(url: str) -> bool:
    """True when `url` names a SQLite file not created yet, in a folder that exists: opening it
    would create the file. A missing folder is False: opening then fails, and says so."""
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return False
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return False
    if "uri" in parsed.query:  # `file:...?mode=...` URIs: left to SQLite to interpret
        return False
    path = Path(database)
    return path.parent.is_dir() and not path.exists()


class DatabaseUnavailableError(Exception):
    """The database cannot be opened; the message is one line, with any password masked."""


def shown_url(url: str) -> str:
    """`url` fit for a terminal or a log: its password, and password query parameters, masked.

    >>> shown_url("postgresql+psycopg://accel:s3cret@db.example.org/accel?password=s3cret")
    'postgresql+psycopg://accel:***@db.example.org/accel?password=***'
    """
    parsed = make_url(url)
    hidden = {key: "***" for key in parsed.query if "password" in key.lower()}
    text = parsed.update_query_dict(hidden).render_as_string(hide_password=True)
    return text.replace("%2A%2A%2A", "***")


def open_engine(url: str, *, upgrade: bool = True) -> sa.Engine:
    """An engine for `url` that has connected once, brought to the newest schema unless not
    `upgrade`. A URL that cannot be used raises DatabaseUnavailableError, whose one line says
    why; the caller decides how to show it."""
    _refuse_unreadable(url)
    try:
        engine = make_engine(url)
    except sa.exc.NoSuchModuleError as error:  # an unknown kind of database
        reason = str(error)
    except ImportError as error:  # the driver the URL names is not installed
        reason = f"its driver is not installed ({error})"
    else:
        try:
            with engine.connect():
                pass
        except sa.exc.DBAPIError as error:  # refused, unknown host, bad password, no such dir...
            engine.dispose()
            reason = str(error.orig) or type(error.orig).__name__
        else:
            if upgrade:
                create_schema(engine)
            return engine
    raise DatabaseUnavailableError(
        f"cannot open the database {shown_url(url)}: {_first_line(reason, _passwords(url))}"
    )


_NOT_A_URL = (
    "cannot open the database: the URL is not a database URL "
    "(e.g. sqlite:///accel.db or postgresql+psycopg://user@host/name)"
)


def _refuse_unreadable(url: str) -> None:
    """Refuse, without quoting it, a URL that cannot be read as meant.

    Never echoed: in a URL that does not parse, the password cannot be told apart from the
    rest. An '@' or ':' in a password must be percent-encoded (%40, %3A); unencoded, the URL
    may still parse, with part of the password read as the host (`u:pa@ss@db` gives the host
    `ss@db`), and that host would then be printed.
    """
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseUnavailableError(
            _NOT_A_URL + "; an '@', ':' or '/' in the user name or password must be "
            "percent-encoded (%40, %3A, %2F)"
        ) from None
    if parsed.host and "@" in parsed.host:
        raise DatabaseUnavailableError(
            "cannot open the database: the URL has more than one '@' before its host; "
            "write an '@' in the user name or password as %40"
        )


def _passwords(url: str) -> list[str]:
    parsed = make_url(url)
    found = [parsed.password] if parsed.password else []
    for key, value in parsed.query.items():
        if "password" in key.lower():
            found += [value] if isinstance(value, str) else list(value)
    return [p for p in found if p]


def _first_line(reason: str, passwords: list[str]) -> str:
    """The driver's first line (psycopg adds hints below it), never quoting a password."""
    text = " ".join(reason.strip().split("\n", 1)[0].split())
    for password in passwords:
        text = text.replace(password, "***")
    return text


def create_schema(engine: sa.Engine) -> None:
    """Bring the database to the newest schema revision (`migrations/`), creating it if empty.

    Safe to call from many processes at once (the upgrade runs under a lock) and cheap when
    the database is already up to date: one query. See accel/migrations.py.
    """
    upgrade_schema(engine)
