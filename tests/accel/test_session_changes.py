"""A session change commits its override and its apply together, or nothing: a failed or refused
move never poisons the cohort, and `restore_sessions` takes an override away again."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from accel.database import create_schema, make_engine
from accel.inputs import load_inputs
from accel.session_overrides import NoSuchSessionError, RefusedMoveError, StoredOverrideError
from calendars.reconcile import Action
from models.tables import OVERRIDE
from tasks.operations import apply_cohort, override_sessions, plan_cohort, restore_sessions

NOW = dt.datetime(2024, 5, 1, 13, 0, tzinfo=dt.UTC)
MASTERCLASS = "test-small/masterclass/03"
FAR = dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC)


def tables(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of ours, sorted: equal before and after means nothing changed."""
    with engine.connect() as connection:
        return {
            name: sorted(tuple(map(repr, row)) for row in connection.execute(sa.select(table)))
            for name, table in SQLModel.metadata.tables.items()
        }


@pytest.fixture
def applied(sqlite_engine: sa.Engine, small_cohort_path: Path) -> sa.Engine:
    apply_cohort(sqlite_engine, load_inputs(small_cohort_path), now=NOW)
    return sqlite_engine


@pytest.mark.parametrize(
    ("to", "message"),
    [
        (FAR, "outside the dates a program may use (1970-01-01 to 2199-12-31)"),
        (dt.datetime(2200, 1, 1, tzinfo=dt.UTC), "outside the dates a program may use"),
        (dt.datetime(2024, 4, 30, tzinfo=dt.UTC), "cannot be moved into the past"),
        (NOW, "cannot be moved into the past"),
    ],
)
def test_a_move_into_the_past_or_far_future_is_refused_and_changes_nothing(
    applied: sa.Engine, small_cohort_path: Path, to: dt.datetime, message: str
) -> None:
    inputs = load_inputs(small_cohort_path)
    before = tables(applied)
    with pytest.raises(RefusedMoveError, match=re.escape(message)):
        override_sessions(applied, inputs, pattern=MASTERCLASS, now=NOW, starts_at=to)
    assert tables(applied) == before
    # The cohort is not poisoned: planning, applying and moving again all work.
    assert plan_cohort(applied, inputs, now=NOW).is_empty
    assert apply_cohort(applied, inputs, now=NOW).is_empty
    moved = override_sessions(
        applied, inputs, pattern=MASTERCLASS, now=NOW, shift=dt.timedelta(days=1)
    )
    assert [c.key for c in moved.plan.sessions] == [MASTERCLASS]


def test_a_shift_into_the_past_is_refused_for_the_whole_pattern(
    applied: sa.Engine, small_cohort_path: Path
) -> None:
    """A glob whose one session would land in the past moves none of them."""
    inputs = load_inputs(small_cohort_path)
    before = tables(applied)
    first = next(s for s in inputs.timeline.sessions if s.key == "test-small/masterclass/01")
    late = first.starts_at - dt.timedelta(days=30)  # masterclass/01 is then 30 days ahead
    with pytest.raises(RefusedMoveError, match="test-small/masterclass/01: the new start"):
        override_sessions(
            applied,
            inputs,
            pattern="test-small/masterclass/*",
            now=late,
            shift=-dt.timedelta(days=31),
        )
    assert tables(applied) == before


def test_the_override_commits_with_its_apply_or_not_at_all(
    applied: sa.Engine, small_cohort_path: Path
) -> None:
    """The outbox refuses every new row (a real trigger in the database): the apply fails
    half-way, and the override written before it in the transaction is gone with it. Before,
    the override was committed on its own and every later apply met it."""
    inputs = load_inputs(small_cohort_path)
    with applied.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TRIGGER refuse_mail BEFORE INSERT ON outbox_message "
                "BEGIN SELECT RAISE(ABORT, 'outbox refuses'); END"
            )
        )
    before = tables(applied)
    with pytest.raises(sa.exc.IntegrityError, match="outbox refuses"):
        override_sessions(applied, inputs, pattern=MASTERCLASS, now=NOW, shift=dt.timedelta(days=1))
    assert tables(applied) == before
    with applied.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER refuse_mail"))
    assert plan_cohort(applied, inputs, now=NOW).is_empty


def test_a_dry_run_reports_what_the_real_change_does_and_writes_nothing(
    applied: sa.Engine, small_cohort_path: Path
) -> None:
    inputs = load_inputs(small_cohort_path)
    before = tables(applied)
    pattern, shift = "test-small/coaching/*/04", dt.timedelta(hours=2)
    dry = override_sessions(applied, inputs, pattern=pattern, now=NOW, shift=shift, dry_run=True)
    assert tables(applied) == before
    real = override_sessions(applied, inputs, pattern=pattern, now=NOW, shift=shift)
    assert tables(applied) != before
    assert dry.dry_run and not real.dry_run
    assert dry.sessions == real.sessions and len(real.sessions) == 3
    assert dry.messages.as_dict() == real.messages.as_dict()
    assert real.messages.as_dict()["retimed"]["session_reminder"]["recipients"] == 11
    assert all(
        m.new_starts_at is not None
        and m.old_starts_at is not None
        and m.new_starts_at - m.old_starts_at == shift
        for m in real.sessions
    )


def test_restore_brings_back_what_the_files_say(
    applied: sa.Engine, small_cohort_path: Path
) -> None:
    inputs = load_inputs(small_cohort_path)
    files = {s.key: s.starts_at for s in inputs.timeline.sessions}
    override_sessions(applied, inputs, pattern=MASTERCLASS, now=NOW, shift=dt.timedelta(days=1))
    override_sessions(
        applied, inputs, pattern="test-small/coaching/santiago/05", now=NOW, cancel=True
    )
    result = restore_sessions(applied, inputs, pattern="test-small/*", now=NOW)
    by_key = {m.key: m for m in result.sessions}
    assert by_key[MASTERCLASS].new_starts_at == files[MASTERCLASS]
    assert by_key[MASTERCLASS].action == Action.CHANGED
    santiago = by_key["test-small/coaching/santiago/05"]
    assert (santiago.action, santiago.old_cancelled) == (Action.RESTORED, True)
    assert santiago.new_starts_at == files["test-small/coaching/santiago/05"]
    # Its attendees are invited again and their reminders come back.
    queued = result.messages.as_dict()["queued"]
    assert queued["session_reminder"]["messages"] > 0 and queued["invitation"]["recipients"] > 0
    with applied.connect() as connection:
        left = connection.execute(sa.text("SELECT count(*) FROM session_override")).scalar()
    assert left == 0
    assert plan_cohort(applied, inputs, now=NOW).is_empty
    with pytest.raises(NoSuchSessionError, match="no operator's move or cancellation"):
        restore_sessions(applied, inputs, pattern="test-small/*", now=NOW)


def test_restore_refuses_to_move_a_session_back_into_the_past(
    applied: sa.Engine, small_cohort_path: Path
) -> None:
    """Moved later, then the files' time passes: restoring would put it in the past."""
    inputs = load_inputs(small_cohort_path)
    files = {s.key: s.starts_at for s in inputs.timeline.sessions}
    override_sessions(applied, inputs, pattern=MASTERCLASS, now=NOW, shift=dt.timedelta(days=2))
    between = files[MASTERCLASS] + dt.timedelta(days=1)
    before = tables(applied)
    with pytest.raises(RefusedMoveError, match="restoring would move it into the past"):
        restore_sessions(applied, inputs, pattern=MASTERCLASS, now=between)
    assert tables(applied) == before


def test_restore_heals_a_cohort_poisoned_before_the_fix(
    applied: sa.Engine, small_cohort_path: Path
) -> None:
    """An override to year 9999 stored by an older version: every plan and apply refuses it,
    naming the way out, until `restore` removes it without ever laying it over the timeline."""
    inputs = load_inputs(small_cohort_path)
    with applied.begin() as connection:
        connection.execute(
            sa.insert(OVERRIDE).values(
                session_key=MASTERCLASS,
                cohort_id="test-small",
                starts_at=FAR,
                cancelled=False,
                changed_at=NOW,
            )
        )
    with pytest.raises(StoredOverrideError, match=f"`accel session restore {MASTERCLASS}`"):
        plan_cohort(applied, inputs, now=NOW)
    result = restore_sessions(applied, inputs, pattern=MASTERCLASS, now=NOW)
    assert result.plan.is_empty  # the poisoned move never reached the sessions
    assert plan_cohort(applied, inputs, now=NOW).is_empty


@pytest.mark.postgres
def test_on_postgresql_a_dry_run_and_a_refused_move_leave_nothing(
    postgres_url: str, small_cohort_path: Path
) -> None:
    """The same transaction on PostgreSQL, under the cohort's advisory lock: a dry run and a
    refused move roll back whole, and the lock is free for the real change after them."""
    engine = make_engine(postgres_url)
    create_schema(engine)
    inputs = load_inputs(small_cohort_path)
    apply_cohort(engine, inputs, now=NOW)
    before = tables(engine)
    shift = dt.timedelta(days=1)
    dry = override_sessions(engine, inputs, pattern=MASTERCLASS, now=NOW, shift=shift, dry_run=True)
    with pytest.raises(RefusedMoveError):
        override_sessions(engine, inputs, pattern=MASTERCLASS, now=NOW, starts_at=FAR)
    assert tables(engine) == before
    real = override_sessions(engine, inputs, pattern=MASTERCLASS, now=NOW, shift=shift)
    assert real.messages.as_dict() == dry.messages.as_dict()
    assert real.messages.as_dict()["retimed"]["session_reminder"]["messages"] > 0
    assert plan_cohort(engine, inputs, now=NOW).is_empty
    engine.dispose()
