"""The SMTP server goes away for a minute mid-dispatch, on the dispatcher's clock.

"A minute" is simulated with `--now`, never slept: the sink is killed after a first pass has
sent part of what is due, dispatch passes run at now+20 s and now+40 s while it is gone (each
defers what it claimed, untried), the sink comes back at now+60 s and the pass then delivers
the rest. Every message arrives once, and in the order of `send_at`.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from accel.database import create_schema, make_engine

# Invitations go out three weeks ahead: what falls due between these two passes spans several
# send times (invitations, and reminders of sessions that have not started at NOW).
EARLIER = dt.datetime(2024, 6, 26, 12, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 7, 8, 17, 0, tzinfo=dt.UTC)
REPORT = re.compile(r"(\d+) sent, (\d+) failed, (\d+) to retry, (\d+) cancelled, (\d+) deferred")


def report(output: str) -> dict[str, int]:
    found = REPORT.search(output)
    assert found, output
    return dict(
        zip(
            ("sent", "failed", "retried", "cancelled", "deferred"),
            map(int, found.groups()),
            strict=True,
        )
    )


def test_smtp_server_gone_for_a_minute(
    database_url: str, sink: Any, tmp_path: Path, faults: Any
) -> None:
    engine = make_engine(database_url)
    create_schema(engine)
    faults.apply_small(engine, tmp_path, immediate=False)
    dispatch = faults.dispatch
    sink.start()
    earlier = report(dispatch(database_url, sink.port, EARLIER))
    assert earlier["sent"] > 0 and earlier["cancelled"] == 0
    before = len(sink.ids())
    due = [r for r in faults.outbox(engine) if r.status == "pending" and r.send_at <= NOW]
    assert len({r.send_at for r in due}) >= 4, "the due messages should span several send times"
    first_part = len(due) // 3

    # One at a time, so that arrival order is claim order (by send_at, then id).
    one = {"concurrency": 1}
    sent = report(dispatch(database_url, sink.port, NOW, "--limit", str(first_part), **one))
    assert sent["sent"] == first_part
    sink.kill()  # the server goes away mid-dispatch: part of what is due is still queued

    for seconds in (20, 40):
        # Exit status 1: the server could not be reached, so cron and monitoring notice.
        at = NOW + dt.timedelta(seconds=seconds)
        down = report(dispatch(database_url, sink.port, at, expect_status=1, **one))
        assert down["sent"] == 0 and down["deferred"] > 0, down
        assert down["failed"] == down["retried"] == down["cancelled"] == 0, down
        rows = {r.id: r for r in faults.outbox(engine)}
        waiting = [rows[r.id] for r in due if rows[r.id].status != "sent"]
        # Deferred untried: still pending, due when they were, no attempt spent, not held.
        assert {r.status for r in waiting} == {"pending"}
        assert all(r.attempts == 0 and r.claimed_at is None for r in waiting)
        assert [r.send_at for r in waiting] == [r.send_at for r in due[first_part:]]

    sink.start()  # back on the same port at now+60 s
    back = report(dispatch(database_url, sink.port, NOW + dt.timedelta(seconds=60), **one))
    assert back["sent"] == len(due) - first_part and back["deferred"] == 0, back

    final = {r.id: r for r in faults.outbox(engine)}
    assert {final[r.id].status for r in due} == {"sent"}
    # Nothing that was not yet due went out.
    assert all(r.status == "pending" for r in final.values() if r.send_at > NOW)
    arrived = sink.ids()[before:]
    assert sorted(arrived) == sorted(r.message_id for r in due)  # each exactly once
    order = {r.message_id: (r.send_at, r.id) for r in due}
    assert [order[m] for m in arrived] == sorted(order[m] for m in arrived)  # by send_at
    assert {final[r.id].attempts for r in due} == {1}  # the outage cost no message an attempt
    engine.dispose()
