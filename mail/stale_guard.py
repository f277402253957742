"""The dispatcher's brake: a pass that would cancel many messages as "already started" stops.

A message is never sent for a session that started before it could go out: the dispatcher
cancels it ("the session had started before the message could be sent"). A few such rows are
normal (a dispatcher down for an hour). Most of the queue at once means the clock is wrong
for this database (a rehearsal dispatched at the real clock, a `--now` typed a year late):
cancelling would destroy the queue with no undo, so the pass sends and cancels nothing and
says so. `--cancel-stale` (the flow's `cancel_stale`) is the operator saying the clock is right.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from models.outbox import OUTBOX, MessageKind, MessageStatus
from models.tables import SESSION

# The pass stops when the messages it would cancel as already started are more than this
# share of the due messages it looked at AND more than STALE_COUNT_LIMIT: a handful of stale
# reminders after an outage is normal, a fifth of the queue is a clock mistake.
STALE_SHARE_LIMIT = 0.20
STALE_COUNT_LIMIT = 10
_SESSION_KINDS = [
    kind.value
    for kind in (
        MessageKind.INVITATION,
        MessageKind.UPDATE,
        MessageKind.CANCELLATION,
        MessageKind.SESSION_REMINDER,
    )
]


@dataclass(frozen=True)
class StaleCheck:
    """What a pass at `now` would look at, and how many of those it would cancel as started."""

    now: dt.datetime
    due: int
    started: int

    @property
    def too_many(self) -> bool:
        return self.started > STALE_COUNT_LIMIT and self.started > STALE_SHARE_LIMIT * self.due

    def describe(self, *, override: str = "--cancel-stale", now_hint: str = "--now") -> str:
        """One line: what was held back, why, and how to go on."""
        at = self.now.astimezone(dt.UTC).replace(microsecond=0).isoformat()
        share = self.started / self.due if self.due else 0.0
        return (
            f"dispatch stopped before sending anything: {self.started:,} of the {self.due:,} "
            f"due messages ({share:.0%}) are for sessions that had already started at "
            f"{at.replace('+00:00', 'Z')}, and would be cancelled (more than "
            f"{STALE_SHARE_LIMIT:.0%} and more than {STALE_COUNT_LIMIT} stops a pass). If "
            f"that moment is right, run again with {override} to cancel them; if this "
            f"database is a rehearsal, give its moment with {now_hint}."
        )


def check_started(
    connection: sa.Connection, *, now: dt.datetime, lease: dt.timedelta, limit: int | None
) -> StaleCheck:
    """Count the messages a pass at `now` would take (at most `limit`, in its order) and those
    among them whose session had started by `now` (the rows it would cancel as started)."""
    due = sa.or_(
        sa.and_(OUTBOX.c.status == MessageStatus.PENDING.value, OUTBOX.c.send_at <= now),
        sa.and_(OUTBOX.c.status == MessageStatus.SENDING.value, OUTBOX.c.claimed_at <= now - lease),
    )
    looked_at_query = sa.select(OUTBOX.c.id, OUTBOX.c.kind, OUTBOX.c.subject_key).where(due)
    if limit is not None:  # the rows the pass would take first; without a limit, all of them
        looked_at_query = looked_at_query.order_by(OUTBOX.c.send_at, OUTBOX.c.id).limit(limit)
    looked_at = looked_at_query.subquery()
    started = sa.and_(
        looked_at.c.kind.in_(_SESSION_KINDS),
        SESSION.c.starts_at <= now,
    )
    query = sa.select(
        sa.func.count(looked_at.c.id),
        sa.func.count(sa.case((started, looked_at.c.id))),
    ).select_from(looked_at.outerjoin(SESSION, SESSION.c.key == looked_at.c.subject_key))
    total, stale = connection.execute(query).one()
    return StaleCheck(now, int(total), int(stale))
