"""The database engine: SQLite file by default, any SQLAlchemy URL from settings."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import models.feed_tokens  # registers the feed tables on SQLModel.metadata
import models.outbox  # registers the outbox tables on SQLModel.metadata
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
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def create_schema(engine: sa.Engine) -> None:
    """Bring the database to the newest schema revision (`migrations/`), creating it if empty.

    Safe to call from many processes at once (the upgrade runs under a lock) and cheap when
    the database is already up to date: one query. See accel/migrations.py.
    """
    upgrade_schema(engine)
