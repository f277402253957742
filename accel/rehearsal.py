"""Rehearsal safety: a database driven with `--now` remembers it, and the real clock is refused on it.

A rehearsal (`accel apply --now 2024-05-01T13:00Z`, then dispatches, checks, ... at simulated
moments) fills the outbox for a clock that is not the real one. A command at the real clock on
that database would take every queued message as due, and cancel each whose session "had
already started": thousands of rows, silently, with no undo. So the commands that act with
`--now` record the latest moment they reached (`record_rehearsal`), and anything about to use
the real clock asks first (`RehearsalClockError`). The ways out are named in the refusal:
`--now`, a fresh database, or `accel db end-rehearsal` (`end_rehearsal`), which makes the
database live again on purpose.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from accel.database import open_engine
from models.rehearsal import REHEARSAL_CLOCK

ONE_ROW = 1  # the table holds at most this row: one rehearsal clock per database


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 instant with an offset, or a date (midnight UTC), in UTC.

    >>> parse_instant("2024-07-01T09:00-04:00").isoformat()
    '2024-07-01T13:00:00+00:00'
    >>> parse_instant("2024-05-01").isoformat()
    '2024-05-01T00:00:00+00:00'
    """
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r} (e.g. 2024-07-01T09:00Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no offset: add Z or e.g. -04:00")
    return moment.astimezone(dt.UTC)


def utc_text(moment: dt.datetime) -> str:
    """`2024-05-01T13:00:00Z`: whole seconds, in UTC."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class RehearsalMark:
    reached_at: dt.datetime  # the latest simulated moment a command acted at
    set_by: str  # what reached it, e.g. "accel apply"
    recorded_at: dt.datetime  # the real clock then


class RehearsalClockError(Exception):
    """The real clock was about to act on a rehearsal database; the message is one line."""

    def __init__(self, mark: RehearsalMark, *, who: str, now_hint: str = "--now") -> None:
        self.mark = mark
        super().__init__(describe_refusal(mark, who=who, now_hint=now_hint))


def describe_refusal(mark: RehearsalMark, *, who: str, now_hint: str = "--now") -> str:
    """The one line that refuses the real clock, naming the rehearsal's moment and the ways out.

    `now_hint` is how the moment is given to `who`: `--now` for a command, `now=` for a flow.
    """
    reached = utc_text(mark.reached_at)
    example = f"{now_hint} {reached}" if now_hint.startswith("--") else f"{now_hint}{reached}"
    return (
        f"{who}: refused at the real clock: this database holds a rehearsal that reached "
        f"{reached} (by {mark.set_by}), and the real clock would take its queue as live "
        f"(cancelling or sending what the rehearsal queued). Pass {now_hint} (e.g. {example}), "
        "use a fresh database (ACCEL_DATABASE_URL), or run `accel db end-rehearsal` to act on "
        "it at the real clock from now on."
    )


def rehearsal_mark(connection: sa.Connection) -> RehearsalMark | None:
    """The database's rehearsal clock, or None when it holds no rehearsal."""
    row = connection.execute(sa.select(REHEARSAL_CLOCK)).first()
    if row is None:
        return None
    return RehearsalMark(row.reached_at, row.set_by, row.recorded_at)


def record_rehearsal(connection: sa.Connection, *, moment: dt.datetime, set_by: str) -> None:
    """Remember that `set_by` acted at `moment`: the clock keeps the latest moment reached.

    One statement (an upsert that keeps the later moment), so concurrent commands cannot lose
    the later one. Call it in the transaction of the work done at `moment` when there is one.
    """
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    values = {
        "id": ONE_ROW,
        "reached_at": moment,
        "set_by": set_by,
        "recorded_at": dt.datetime.now(dt.UTC),
    }
    statement = insert(REHEARSAL_CLOCK).values(values)
    later = statement.excluded.reached_at > REHEARSAL_CLOCK.c.reached_at
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[REHEARSAL_CLOCK.c.id],
            set_={
                name: statement.excluded[name] for name in ("reached_at", "set_by", "recorded_at")
            },
            where=later,
        )
    )


def end_rehearsal(connection: sa.Connection) -> RehearsalMark | None:
    """Forget the rehearsal: the real clock may act on the database. What was there, or None."""
    mark = rehearsal_mark(connection)
    connection.execute(sa.delete(REHEARSAL_CLOCK))
    return mark


def refuse_real_clock(connection: sa.Connection, *, who: str, now_hint: str = "--now") -> None:
    """Raise RehearsalClockError if the database holds a rehearsal."""
    mark = rehearsal_mark(connection)
    if mark is not None:
        raise RehearsalClockError(mark, who=who, now_hint=now_hint)


def stored_rehearsal(url: str) -> RehearsalMark | None:
    """The rehearsal clock of the database at `url`, read without changing anything.

    Neither creates a missing SQLite file nor upgrades the schema: a database that does not
    exist yet, or predates the rehearsal clock, holds no rehearsal. A database that cannot be
    opened raises DatabaseUnavailableError, as for every command.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:"):
            return None
        if parsed.query.get("uri") == "true":  # sqlite:///file:/srv/accel.db?uri=true&...
            path = path.removeprefix("file:")
        if not Path(path).exists():
            return None
    engine = open_engine(url, upgrade=False)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(REHEARSAL_CLOCK.name):
                return None
            return rehearsal_mark(connection)
    finally:
        engine.dispose()
