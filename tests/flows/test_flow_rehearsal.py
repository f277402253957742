"""The flows keep the rehearsal rule: without `now` on a rehearsal database they refuse (a failed
run with one line) and change nothing; with `now` they remember it; the stale brake holds too."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prefect.exceptions import FailedRun
from typer.testing import CliRunner

from accel.database import make_engine
from accel.rehearsal import stored_rehearsal
from cli.main import app
from flows.change_sessions import cancel_session
from flows.check_deliverables import check_deliverables
from flows.dispatch_messages import dispatch_messages
from flows.notify_decision_points import notify_decision_points
from flows.sync_cohort import sync_cohort
from models.outbox import OUTBOX

COHORT = "tests/data/cohorts/small.yaml"
REHEARSAL = dt.datetime(2024, 5, 1, 13, tzinfo=dt.UTC)
REACHED = "2024-05-01T13:00:00Z"


def outbox_dump(folder: Path) -> list[Any]:
    engine = make_engine(f"sqlite:///{folder / 'accel.db'}")
    with engine.connect() as connection:
        rows = list(connection.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id)))
    engine.dispose()
    return rows


def test_real_clock_flows_refuse_a_rehearsal(engine_env: Path) -> None:
    # The rehearsal, applied from the command line as an operator would.
    applied = CliRunner().invoke(app, ["apply", "--cohort", COHORT, "--now", "2024-05-01T13:00Z"])
    assert applied.exit_code == 0, applied.output
    before = outbox_dump(engine_env)
    assert len(before) > 500

    refusals = [
        ("dispatch_messages", lambda: asyncio.run(dispatch_messages())),
        ("sync_cohort", lambda: sync_cohort(cohort_file=COHORT)),
        ("check_deliverables", lambda: check_deliverables(cohort_file=COHORT)),
        ("notify_decision_points", lambda: notify_decision_points(cohort_file=COHORT)),
        ("cancel_session", lambda: cancel_session(session="*", cohort_file=COHORT)),
    ]
    for name, run in refusals:
        with pytest.raises(FailedRun) as refused:
            run()
        line = str(refused.value)
        assert "\n" not in line
        assert line.startswith(
            f"flow {name}: refused at the real clock: this database holds a rehearsal that "
            f"reached {REACHED} (by accel apply --now)"
        ), line
        assert f"Pass now= (e.g. now={REACHED})" in line and "accel db end-rehearsal" in line
    assert outbox_dump(engine_env) == before
    assert not (engine_env / "outbox").exists()

    # With `now`, the flow acts at the rehearsal's moment and moves its clock forward.
    later = REHEARSAL + dt.timedelta(days=1)
    sent = asyncio.run(dispatch_messages(now=later))
    assert sent["sent"] > 0 and sent["failed"] == 0 and sent["held"] is None
    url = f"sqlite:///{engine_env / 'accel.db'}"
    mark = stored_rehearsal(url)
    assert mark is not None and mark.reached_at == later
    assert mark.set_by == "flow dispatch_messages(now=2024-05-02T13:00:00Z)"

    # Ended on purpose: the real clock may act, and the stale brake stops the dispatcher from
    # cancelling the 2024 queue as started, until told the clock is right.
    assert CliRunner().invoke(app, ["db", "end-rehearsal"]).exit_code == 0
    after_rehearsal = outbox_dump(engine_env)
    with pytest.raises(FailedRun) as held:
        asyncio.run(dispatch_messages())
    assert str(held.value).startswith("dispatch stopped before sending anything: ")
    assert "run again with cancel_stale=True" in str(held.value)
    assert outbox_dump(engine_env) == after_rehearsal
    told = asyncio.run(dispatch_messages(cancel_stale=True))
    assert told["sent"] == 0 and told["cancelled"] == sum(
        1 for row in after_rehearsal if row.status == "pending"
    )
