"""The flows under Prefect's test harness: re-runs send nothing twice, changes reach exactly the
people affected, deliverable chains stop where they should, mayors hear once per decision."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from accel.database import make_engine
from accel.deliverables import submit_deliverable
from accel.inputs import load_inputs
from flows.change_sessions import cancel_session, reschedule_session
from flows.check_deliverables import check_deliverables
from flows.dispatch_messages import dispatch_messages
from flows.notify_decision_points import notify_decision_points
from flows.sync_cohort import sync_cohort
from models.outbox import OUTBOX

COHORT = "tests/data/cohorts/small.yaml"
MAY = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def _rows(folder: Path, **where: object) -> list[sa.Row]:  # type: ignore[type-arg]
    engine = make_engine(f"sqlite:///{folder / 'accel.db'}")
    query = sa.select(OUTBOX)
    for name, value in where.items():
        query = query.where(OUTBOX.c[name] == value)
    with engine.connect() as connection:
        rows = list(connection.execute(query))
    engine.dispose()
    return rows


def test_sync_twice_sends_nothing_new(engine_env: Path) -> None:
    first = sync_cohort(cohort_file=COHORT, now=MAY)
    assert first["sessions"] == 64 and first["invitations"] > 0
    sent = asyncio.run(dispatch_messages(now=MAY))
    assert sent["sent"] > 0 and sent["failed"] == 0
    files = sorted((engine_env / "outbox").iterdir())
    assert len(files) == sent["sent"]
    again = sync_cohort(cohort_file=COHORT, now=MAY)
    assert again["sessions"] == 0 and again["invitations"] == 0
    second = asyncio.run(dispatch_messages(now=MAY))
    assert second["sent"] == 0
    assert sorted((engine_env / "outbox").iterdir()) == files


def _three_weeks_before(key: str) -> dt.datetime:
    """When the session's invitations have gone out (they leave three weeks ahead)."""
    session = next(s for s in load_inputs(Path(COHORT)).timeline.sessions if s.key == key)
    return session.starts_at - dt.timedelta(days=20)


def test_reschedule_updates_only_attendees_and_retimes_reminders(engine_env: Path) -> None:
    sync_cohort(cohort_file=COHORT, now=MAY)
    key = "test-small/coaching/santiago/03"
    then = _three_weeks_before(key)
    # The invitations went out: a move is an update. One pass from May to `then`: most of what
    # it finds has started (the stale brake would stop it), which this test means.
    asyncio.run(dispatch_messages(now=then, cancel_stale=True))
    before = {
        r.email: r.send_at for r in _rows(engine_env, subject_key=key, kind="session_reminder")
    }
    summary = reschedule_session(session=key, shift_minutes=60, cohort_file=COHORT, now=then)
    assert summary["sessions"] == [key] and summary["updates"] == 4
    updates = _rows(engine_env, kind="update")
    assert {r.subject_key for r in updates} == {key}
    assert {r.email for r in updates} == set(before)
    after = {
        r.email: r.send_at
        for r in _rows(engine_env, subject_key=key, kind="session_reminder")
        if r.status == "pending"
    }
    assert after and all(after[e] - before[e] == dt.timedelta(hours=1) for e in after)


def test_cancel_sends_cancellations_and_stops_reminders(engine_env: Path) -> None:
    sync_cohort(cohort_file=COHORT, now=MAY)
    key = "test-small/masterclass/02"
    then = _three_weeks_before(key)
    asyncio.run(dispatch_messages(now=then, cancel_stale=True))  # one pass from May, as above
    summary = cancel_session(session=key, cohort_file=COHORT, now=then)
    assert summary["sessions"] == [key] and summary["cancellations"] > 0
    cancellations = _rows(engine_env, kind="cancellation")
    assert {r.subject_key for r in cancellations} == {key}
    reminders = _rows(engine_env, subject_key=key, kind="session_reminder")
    assert reminders and {r.status for r in reminders} == {"cancelled"}


# strategy-outline, 17:00 in Santiago on Tuesday 17 September: the program moves it off
# Wednesday 18 (Independence Day). Chile's holidays of 18-20 September and the weekend then put
# the team's overdue notice and the coach's escalation on Monday 23 September, the mayor's on 25.
DUE = dt.datetime(2024, 9, 17, 20, 0, tzinfo=dt.UTC)
OUTLINE = "test-small/deliverable/santiago/strategy-outline"


def _chain(folder: Path) -> list[str]:
    return [r.kind for r in sorted(_rows(folder, subject_key=OUTLINE), key=lambda r: r.send_at)]


def _checks(days: list[float]) -> None:
    for day in days:
        check_deliverables(cohort_file=COHORT, now=DUE + dt.timedelta(days=day))


def _submit(folder: Path, now: dt.datetime) -> None:
    engine = make_engine(f"sqlite:///{folder / 'accel.db'}")
    with engine.begin() as connection:
        submit_deliverable(
            connection,
            cohort_id="test-small",
            city_id="santiago",
            deliverable="strategy-outline",
            link=None,
            now=now,
        )
    engine.dispose()


def test_deliverable_never_submitted_reaches_the_mayor_once(engine_env: Path) -> None:
    sync_cohort(cohort_file=COHORT, now=MAY)
    _checks([-7.5, -1.5, 0.5, 3.5, 5.5, 6.5, 7.5, 8.5, 9.5])  # daily, as deployed, near the end
    kinds = _chain(engine_env)
    assert kinds.count("overdue_escalation_mayor") == 1
    assert kinds.count("overdue_escalation_coach") == 1
    mayor = [
        r for r in _rows(engine_env, subject_key=OUTLINE) if r.kind == "overdue_escalation_mayor"
    ]
    assert [r.email for r in mayor] == ["mayor@santiago.example.org"]


def test_deliverable_on_time_gets_no_escalation(engine_env: Path) -> None:
    sync_cohort(cohort_file=COHORT, now=MAY)
    _checks([-7.5, -1.5])
    _submit(engine_env, DUE - dt.timedelta(hours=2))
    _checks([0.5, 3.5, 7.5])
    assert set(_chain(engine_env)) == {"deliverable_due"}


def test_deliverable_submitted_late_stops_the_chain(engine_env: Path) -> None:
    sync_cohort(cohort_file=COHORT, now=MAY)
    _checks([0.5, 3.5, 5.5])
    _submit(engine_env, DUE + dt.timedelta(days=6, hours=12))
    _checks([7.5, 8.5])
    kinds = _chain(engine_env)
    assert "overdue_escalation_coach" in kinds and "overdue_escalation_mayor" not in kinds


def test_each_decision_point_emails_each_mayor_once(engine_env: Path) -> None:
    sync_cohort(cohort_file=COHORT, now=MAY)
    day = MAY
    while day < dt.datetime(2025, 1, 1, tzinfo=dt.UTC):
        notify_decision_points(cohort_file=COHORT, now=day)
        day += dt.timedelta(days=7)  # weekly here: the one-day look-ahead is tested elsewhere
    rows = _rows(engine_env, kind="decision_point")
    pairs = [(r.email, r.subject_key.rsplit("/", 1)[1]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 9  # 3 mayors x 3 decision points
