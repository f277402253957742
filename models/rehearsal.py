"""The rehearsal clock: the latest simulated moment a database was driven to, one row at most."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.tables import utc_column


class RehearsalClock(SQLModel, table=True):
    """Present while the database holds a rehearsal: commands given `--now` moved it there.

    One row per database, not per cohort: `dispatch` sends every cohort's messages at once, so
    a rehearsal of one cohort makes the real clock wrong for the whole outbox.
    """

    __tablename__ = "rehearsal_clock"
    __table_args__ = (sa.CheckConstraint("id = 1", name="ck_rehearsal_clock_one_row"),)

    id: int = Field(default=1, primary_key=True)
    reached_at: dt.datetime = utc_column(nullable=False)  # the latest `--now` acted at
    set_by: str  # the command that reached it, e.g. "apply"
    recorded_at: dt.datetime = utc_column(nullable=False)  # the real clock when it was recorded


REHEARSAL_CLOCK: sa.Table = RehearsalClock.__table__  # type: ignore[attr-defined]
