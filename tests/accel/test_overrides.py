"""Operators move or cancel sessions: exactly the affected people hear of it, reapply keeps it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from accel.inputs import load_inputs
from accel.session_overrides import NoSuchSessionError
from calendars.reconcile import Action
from tasks.operations import apply_cohort, override_sessions, plan_cohort

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def test_moved_session_updates_only_its_attendees(
    sqlite_engine: sa.Engine, small_cohort_path: Path
) -> None:
    inputs = load_inputs(small_cohort_path)
    apply_cohort(sqlite_engine, inputs, now=NOW)
    key = "test-small/coaching/santiago/03"
    session = next(s for s in inputs.timeline.sessions if s.key == key)
    plan = override_sessions(
        sqlite_engine, inputs, pattern=key, now=NOW, shift=dt.timedelta(days=1)
    ).plan
    [change] = plan.sessions
    assert (change.key, change.action, change.sequence, change.what) == (
        key,
        Action.CHANGED,
        1,
        ("time",),
    )
    assert change.starts_at == session.starts_at + dt.timedelta(days=1)
    assert {i.email for i in plan.invitations} == {a.person for a in session.attendees}
    assert {i.action for i in plan.invitations} == {Action.UPDATE}
    # The files did not change, and applying them again keeps the operator's move.
    assert plan_cohort(sqlite_engine, inputs, now=NOW).is_empty


def test_cancel_a_session_for_every_city(sqlite_engine: sa.Engine, small_cohort_path: Path) -> None:
    inputs = load_inputs(small_cohort_path)
    apply_cohort(sqlite_engine, inputs, now=NOW)
    plan = override_sessions(
        sqlite_engine, inputs, pattern="test-small/coaching/*/05", now=NOW, cancel=True
    ).plan
    assert sorted(c.key for c in plan.sessions) == [
        f"test-small/coaching/{city}/05" for city in ("asuncion", "mexico-city", "santiago")
    ]
    assert {c.action for c in plan.sessions} == {Action.CANCELLED}
    assert len(plan.invitations) == 12 and {i.action for i in plan.invitations} == {Action.CANCEL}


def test_unknown_or_past_sessions_are_refused(
    sqlite_engine: sa.Engine, small_cohort_path: Path
) -> None:
    inputs = load_inputs(small_cohort_path)
    with pytest.raises(NoSuchSessionError, match="no session of test-small matches"):
        override_sessions(sqlite_engine, inputs, pattern="test-small/nothing", now=NOW, cancel=True)
    late = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(NoSuchSessionError, match="already started"):
        override_sessions(
            sqlite_engine, inputs, pattern="test-small/masterclass/*", now=late, cancel=True
        )
