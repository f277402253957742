"""Stored state of subscription feeds: secret-URL token hashes, and what feeds need beyond sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from models.tables import utc_column

SUBJECT_TYPES = ("person", "city")


class FeedTokenRecord(SQLModel, table=True):
    """One secret feed URL. Only the SHA-256 of the token is kept: a database leak reveals no URL."""

    __tablename__ = "feed_token"
    __table_args__ = (
        sa.CheckConstraint("subject_type IN ('person', 'city')", name="ck_feed_token_subject_type"),
        # At most one live token per subject, even if two `accel feeds` run at once.
        sa.Index(
            "uq_feed_token_live_subject",
            "cohort_id",
            "subject_type",
            "subject",
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: str = Field(index=True)
    subject_type: str  # "person" or "city"
    subject: str  # the person's lower-case email, or the city id
    token_hash: str = Field(unique=True, max_length=64)  # sha256 hex of the token
    created_at: dt.datetime = utc_column(nullable=False)
    revoked_at: dt.datetime | None = utc_column(nullable=True)


class FeedSourceRecord(SQLModel, table=True):
    """Per cohort, what feeds show but sessions do not store: program id (for UIDs), names, refresh.

    Written from the cohort and program files by `accel feeds`; `changed_at` moves only when
    the content does, because it is part of every feed's Last-Modified.
    """

    __tablename__ = "feed_source"

    cohort_id: str = Field(primary_key=True)
    program_id: str
    program_name: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    refresh_seconds: int
    cities: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # id → {name, language}
    changed_at: dt.datetime = utc_column(nullable=False)


# Core table handles, exported once: queries everywhere use these names.
FEED_TOKEN: sa.Table = FeedTokenRecord.__table__  # type: ignore[attr-defined]
FEED_SOURCE: sa.Table = FeedSourceRecord.__table__  # type: ignore[attr-defined]
