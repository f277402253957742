"""Reconcile against a real database: idempotent apply, changed and removed sessions and people."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from accel.database import create_schema, make_engine
from accel.inputs import load_inputs
from calendars.reconcile import Action, Plan
from cli.main import app
from models.tables import INVITATION, SESSION
from tasks.operations import apply_cohort, plan_cohort

BEFORE_PROGRAM = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
runner = CliRunner()


def _sessions(engine: sa.Engine) -> dict[str, tuple[str, int, dt.datetime]]:
    with engine.connect() as connection:
        return {
            r.key: (r.status, r.sequence, r.starts_at)
            for r in connection.execute(sa.select(SESSION))
        }


def _invitations(engine: sa.Engine, session_key: str) -> dict[str, tuple[str, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(INVITATION).where(INVITATION.c.session_key == session_key)
        )
        return {r.email: (r.status, r.sequence) for r in rows}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _apply(engine: sa.Engine, cohort: Path, now: dt.datetime = BEFORE_PROGRAM) -> Plan:
    return apply_cohort(engine, load_inputs(cohort), now=now)


def test_apply_twice_changes_nothing(sqlite_engine: sa.Engine, workspace: Path) -> None:
    cohort = workspace / "cohorts" / "small.yaml"
    first = _apply(sqlite_engine, cohort)
    assert len([c for c in first.sessions if c.action is Action.ADDED]) == 64
    stored = _sessions(sqlite_engine)
    assert len(stored) == 64 and all(seq == 0 for _, seq, _ in stored.values())
    second = _apply(sqlite_engine, cohort, BEFORE_PROGRAM + dt.timedelta(days=3))
    assert second.is_empty and second.changes() == []
    assert _sessions(sqlite_engine) == stored


def test_changed_session_keeps_key_and_raises_sequence(
    sqlite_engine: sa.Engine, workspace: Path
) -> None:
    cohort = workspace / "cohorts" / "small.yaml"
    _apply(sqlite_engine, cohort)
    _edit(workspace / "programs" / "cda-accelerator.yaml", 'times: ["12:00"]', 'times: ["13:00"]')
    plan = _apply(sqlite_engine, cohort)
    changed = {c.key: c for c in plan.sessions}
    assert set(changed) == {f"test-small/masterclass/0{n}" for n in range(1, 6)}
    assert all(
        c.action is Action.CHANGED and c.sequence == 1 and c.what == ("time",)
        for c in changed.values()
    )
    status, sequence, starts = _sessions(sqlite_engine)["test-small/masterclass/01"]
    assert (status, sequence, starts) == (
        "scheduled",
        1,
        dt.datetime(2024, 7, 9, 17, 0, tzinfo=dt.UTC),
    )
    actions = {i.action for i in plan.invitations}
    assert actions == {Action.UPDATE}
    invitations = _invitations(sqlite_engine, "test-small/masterclass/01")
    assert {seq for _, seq in invitations.values()} == {1}


def test_removed_session_is_cancelled_not_deleted(
    sqlite_engine: sa.Engine, workspace: Path
) -> None:
    cohort = workspace / "cohorts" / "small.yaml"
    _apply(sqlite_engine, cohort)
    coaching_rule = 'COUNT=11"\n      starts: convening+P2W'
    _edit(
        workspace / "programs" / "cda-accelerator.yaml",
        coaching_rule,
        coaching_rule.replace("11", "10"),
    )
    plan = _apply(sqlite_engine, cohort)
    cancelled = sorted(c.key for c in plan.sessions if c.action is Action.CANCELLED)
    assert cancelled == [
        f"test-small/coaching/{c}/11" for c in ("asuncion", "mexico-city", "santiago")
    ]
    assert _sessions(sqlite_engine)["test-small/coaching/santiago/11"][:2] == ("cancelled", 1)
    cancels = [i for i in plan.invitations if i.session_key == "test-small/coaching/santiago/11"]
    assert {i.action for i in cancels} == {Action.CANCEL} and len(cancels) == 4  # team of 3 + coach
    # Put it back: the same key is restored with a higher sequence and fresh invitations.
    _edit(
        workspace / "programs" / "cda-accelerator.yaml",
        coaching_rule.replace("11", "10"),
        coaching_rule,
    )
    restored = _apply(sqlite_engine, cohort)
    back = next(c for c in restored.sessions if c.key == "test-small/coaching/santiago/11")
    assert (back.action, back.sequence) == (Action.RESTORED, 2)


def test_replaced_team_member_gets_removal_others_nothing(
    sqlite_engine: sa.Engine, workspace: Path
) -> None:
    cohort = workspace / "cohorts" / "small.yaml"
    _apply(sqlite_engine, cohort)
    _edit(
        cohort,
        "{name: Ignacio Vera, email: i.vera@santiago.example.org",
        "{name: Inés Vidal, email: i.vidal@santiago.example.org",
    )
    plan = _apply(sqlite_engine, cohort)
    key = "test-small/coaching/santiago/01"
    mine = {(i.email, i.action) for i in plan.invitations if i.session_key == key}
    # Each copy lists only its recipient: the others' invitations did not change.
    assert mine == {
        ("i.vera@santiago.example.org", Action.REMOVE),
        ("i.vidal@santiago.example.org", Action.INVITE),
    }
    assert _invitations(sqlite_engine, key)["c.soto@santiago.example.org"][1] == 0
    assert _invitations(sqlite_engine, key)["i.vera@santiago.example.org"] == ("cancelled", 1)
    assert {p.key: p.action for p in plan.people} == {
        "i.vera@santiago.example.org": Action.CANCELLED,
        "i.vidal@santiago.example.org": Action.ADDED,
    }
    # Sessions of other cities are untouched.
    assert not [c for c in plan.sessions if c.city_id == "asuncion"]


def test_sessions_already_started_are_never_changed(
    sqlite_engine: sa.Engine, workspace: Path
) -> None:
    cohort = workspace / "cohorts" / "small.yaml"
    _apply(sqlite_engine, cohort)
    _edit(workspace / "programs" / "cda-accelerator.yaml", 'times: ["12:00"]', 'times: ["13:00"]')
    mid_august = dt.datetime(2024, 8, 20, tzinfo=dt.UTC)
    plan = _apply(sqlite_engine, cohort, mid_august)
    assert sorted(c.key for c in plan.sessions) == [
        f"test-small/masterclass/0{n}" for n in (3, 4, 5)
    ]
    assert plan.past_unchanged == ["test-small/masterclass/01", "test-small/masterclass/02"]
    assert _sessions(sqlite_engine)["test-small/masterclass/01"][1] == 0


def test_first_apply_mid_program_records_the_past_but_notifies_only_the_future(
    sqlite_engine: sa.Engine, small_cohort_path: Path
) -> None:
    plan = _apply(sqlite_engine, small_cohort_path, dt.datetime(2024, 9, 1, tzinfo=dt.UTC))
    past = [i for i in plan.invitations if not i.notify]
    assert past and all(i.action is Action.INVITE for i in past)
    starts = {c.key: c.starts_at for c in plan.sessions}
    assert all(starts[i.session_key] <= plan.now for i in past)
    assert all(starts[i.session_key] > plan.now for i in plan.invitations if i.notify)


def test_plan_writes_nothing_and_cli_json(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCEL_DATABASE_URL", sqlite_url)
    args = ["--cohort", "tests/data/cohorts/small.yaml", "--now", "2024-05-01T00:00Z", "--json"]
    planned = runner.invoke(app, ["plan", *args])
    assert planned.exit_code == 0, planned.output
    changes = json.loads(planned.stdout)["changes"]
    assert {c["type"] for c in changes} == {
        "session",
        "invitation",
        "deliverable",
        "decision_point",
        "person",
    }
    # Not even created: plan read an empty database in its place.
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()
    applied = runner.invoke(app, ["apply", *args])
    assert json.loads(applied.stdout)["changes"] == changes
    again = runner.invoke(app, ["plan", *args])
    assert json.loads(again.stdout)["changes"] == []


def test_now_must_carry_an_offset() -> None:
    result = runner.invoke(app, ["plan", "--now", "2024-07-01T09:00"])
    assert result.exit_code == 2
    assert "has no offset" in result.output + result.stderr


@pytest.mark.postgres
def test_apply_on_postgresql_is_idempotent(postgres_url: str, small_cohort_path: Path) -> None:
    engine = make_engine(postgres_url)
    create_schema(engine)
    inputs = load_inputs(small_cohort_path)
    first = apply_cohort(engine, inputs, now=BEFORE_PROGRAM)
    assert len(first.sessions) == 64
    assert plan_cohort(engine, inputs, now=BEFORE_PROGRAM).is_empty
    _status, _sequence, starts = _sessions(engine)["test-small/masterclass/05"]
    assert starts == dt.datetime(2024, 11, 12, 17, 0, tzinfo=dt.UTC)
    engine.dispose()
