"""The moment a flow acts at: its `now` (remembered as a rehearsal's), or the real clock if allowed."""

from __future__ import annotations

import datetime as dt

from accel.database import create_schema, make_engine
from accel.rehearsal import RehearsalClockError, record_rehearsal, stored_rehearsal, utc_text
from accel.settings import Settings


def flow_moment(now: dt.datetime | None, *, flow: str, records: bool = True) -> dt.datetime:
    """`now`, recorded as the database's rehearsal moment when `records`; without it, the real
    clock, unless the database holds a rehearsal: then RehearsalClockError, whose one line
    names the rehearsal's moment and the ways out (`now=`, a fresh database, end-rehearsal).

    Flows that only read (a dry run) pass `records=False`: they leave the database unchanged.
    """
    url = Settings().database_url.get_secret_value()
    if now is None:
        mark = stored_rehearsal(url)
        if mark is not None:
            raise RehearsalClockError(mark, who=f"flow {flow}", now_hint="now=")
        return dt.datetime.now(dt.UTC)
    if records:
        engine = make_engine(url)
        try:
            create_schema(engine)
            with engine.begin() as connection:
                record_rehearsal(connection, moment=now, set_by=f"flow {flow}(now={utc_text(now)})")
        finally:
            engine.dispose()
    return now
