"""A rehearsal survives real-clock commands; dispatch says when it failed or would cancel too much.

Real parts: SQLite files, a real SMTP server (aiosmtpd on 127.0.0.1), the `accel` commands.
The rehearsal is the one-city cohort applied at 2024-05-01T13:00Z, whose whole program lies
in the past of any real clock this test runs at: a real-clock dispatch would cancel it all.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from accel.database import make_engine
from cli.main import app
from mail.stale_guard import STALE_COUNT_LIMIT
from models.outbox import OUTBOX
from models.tables import SESSION

runner = CliRunner()
REHEARSAL = "2024-05-01T13:00Z"
REACHED = "2024-05-01T13:00:00Z"
MAYOR = "mayor@santiago.example.org"
BUSINESS_DAY = "2024-05-02T18:00Z"  # the day after Chile's Labour Day


def invoke(env: dict[str, str | None], *args: str) -> Any:
    return runner.invoke(app, list(args), env=env)


def outbox_dump(url: str) -> list[Any]:
    """Every column of every outbox row, by id (rows compare as tuples, `raw` as bytes)."""
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = list(connection.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id)))
    engine.dispose()
    return rows


@pytest.fixture
def env(sqlite_url: str, tiny_workspace: Path, smtp_server: Any) -> dict[str, str | None]:
    """The one-city cohort rehearsed at 2024-05-01T13:00Z, mail to the local SMTP server."""
    settings: dict[str, str | None] = {
        "ACCEL_DATABASE_URL": sqlite_url,
        "ACCEL_SMTP_HOST": "127.0.0.1",
        "ACCEL_SMTP_PORT": str(smtp_server.port),
        "ACCEL_SEND_RATE_PER_SECOND": "0",
    }
    applied = invoke(settings, "apply", "--cohort", str(tiny_workspace), "--now", REHEARSAL)
    assert applied.exit_code == 0, applied.output
    return settings


def test_real_clock_commands_refuse_a_rehearsal_until_it_is_ended(
    env: dict[str, str | None], sqlite_url: str, tiny_workspace: Path, smtp_server: Any
) -> None:
    cohort = ["--cohort", str(tiny_workspace)]
    before = outbox_dump(sqlite_url)
    assert len(before) == 287 and {row.status for row in before} == {"pending"}
    for name, args in (
        ("dispatch", []),
        ("dispatch", ["--json"]),
        ("check-deliverables", cohort),
        ("notify-decisions", cohort),
        ("outbox retry", ["1"]),
        ("apply", cohort),
        ("plan", cohort),
        ("deliverable submit", ["santiago", "strategy-outline", *cohort]),
        ("deliverables", cohort),
        ("feeds", cohort),
        ("export", ["--out", "unused", *cohort]),
        ("serve", cohort),  # refused before any Prefect server is started
    ):
        refused = invoke(env, *name.split(), *args)
        assert refused.exit_code == 2, (name, refused.output)
        assert refused.stdout == "", name
        [line] = refused.stderr.splitlines()
        assert line.startswith(
            f"accel {name}: refused at the real clock: this database holds a rehearsal that "
            f"reached {REACHED} (by accel apply --now)"
        ), line
        assert f"Pass --now (e.g. --now {REACHED})" in line, line
        assert "fresh database" in line and "`accel db end-rehearsal`" in line, line
    assert outbox_dump(sqlite_url) == before
    assert smtp_server.handler.received == []

    # The ways out: --now acts at the rehearsal's time; ending the rehearsal, at the real clock.
    listed = invoke(env, "deliverables", *cohort, "--now", REHEARSAL)
    assert listed.exit_code == 0, listed.output
    ended = invoke(env, "db", "end-rehearsal")
    assert ended.exit_code == 0, ended.output
    assert ended.stdout.startswith(f"rehearsal ended: the database had reached {REACHED} (by ")
    again = invoke(env, "db", "end-rehearsal")
    assert again.exit_code == 0 and "nothing to do" in again.stdout
    real = invoke(env, "deliverables", *cohort)
    assert real.exit_code == 0, real.output
    assert outbox_dump(sqlite_url) == before

    # At the real clock the whole 2024 queue is stale: the dispatcher stops instead of
    # cancelling it, until told the clock is right.
    held = invoke(env, "dispatch")
    assert held.exit_code == 2, held.output
    [line] = held.stderr.splitlines()
    assert line.startswith(
        "dispatch stopped before sending anything: 287 of the 287 due messages (100%) are for "
        "sessions that had already started at "
    )
    assert "run again with --cancel-stale" in line
    assert outbox_dump(sqlite_url) == before
    cancelled = invoke(env, "dispatch", "--cancel-stale")
    assert cancelled.exit_code == 0, cancelled.output
    assert " 0 sent, 0 failed, 0 to retry, 287 cancelled," in cancelled.stdout
    assert {row.status for row in outbox_dump(sqlite_url)} == {"cancelled"}
    assert smtp_server.handler.received == []


def test_a_pass_with_a_550_exits_1_and_names_it(
    env: dict[str, str | None], sqlite_url: str, smtp_server: Any
) -> None:
    refusal = "550 5.1.1 <mayor@santiago.example.org>: no such user"
    smtp_server.handler.rcpt_replies[MAYOR] = refusal
    # 1 May is Labour Day in Chile: the team's invitations wait for the next business day.
    first = invoke(env, "dispatch", "--now", BUSINESS_DAY, "--json")
    assert first.exit_code == 1, first.output
    report = json.loads(first.stdout)
    failed = [row.id for row in outbox_dump(sqlite_url) if row.status == "failed"]
    mayors = [row.id for row in outbox_dump(sqlite_url) if row.email == MAYOR]
    assert failed and set(failed) <= set(mayors)
    assert report["now"] == "2024-05-02T18:00:00Z"
    assert report["counts"] == {
        "sent": 137 - len(failed),
        "failed": len(failed),
        "retried": 0,
        "cancelled": 0,
        "deferred": 0,
        "reclaimed": 0,
    }
    assert report["failed_ids"] == failed and report["held"] is None
    assert report["errors"] == [{"reply": refusal, "messages": len(failed)}]
    assert len(smtp_server.handler.received) == 137 - len(failed)
    assert MAYOR not in {r for m in smtp_server.handler.received for r in m.rcpt_tos}

    # The operator retries one at a moment of the rehearsal; the server still refuses it.
    retried = invoke(env, "outbox", "retry", str(failed[0]), "--now", "2024-05-02T19:00Z")
    assert retried.exit_code == 0, retried.output
    [row] = [r for r in outbox_dump(sqlite_url) if r.id == failed[0]]
    assert (row.status, row.send_at) == ("pending", dt.datetime(2024, 5, 2, 19, tzinfo=dt.UTC))
    second = invoke(env, "dispatch", "--now", "2024-05-02T19:00Z")
    assert second.exit_code == 1, second.output
    assert " 0 sent, 1 failed," in second.stdout
    assert second.stderr.splitlines() == [
        f"1 × {refusal}",
        f"1 message failed in this pass (ids {failed[0]}): `accel outbox list` shows them, "
        "`accel outbox retry ID` sends one again.",
    ]
    clean = invoke(env, "dispatch", "--now", "2024-05-02T19:00Z")
    assert clean.exit_code == 0, clean.output


def test_the_stale_guard_stops_a_late_pass_until_told(
    env: dict[str, str | None], sqlite_url: str, smtp_server: Any
) -> None:
    """A `--now` typed months late: most of the queue would be cancelled as started."""
    before = outbox_dump(sqlite_url)
    late = "2024-10-15T12:00Z"
    held = invoke(env, "dispatch", "--now", late, "--json")
    assert held.exit_code == 2, held.output
    document = json.loads(held.stdout)
    due, started = document["held"]["due"], document["held"]["started"]
    assert started > STALE_COUNT_LIMIT and started > 0.2 * due
    assert document["counts"]["cancelled"] == 0
    [line] = held.stderr.splitlines()
    assert line.startswith(f"dispatch stopped before sending anything: {started} of the {due} due")
    assert outbox_dump(sqlite_url) == before
    assert smtp_server.handler.received == []

    told = invoke(env, "dispatch", "--now", late, "--cancel-stale")
    assert told.exit_code == 0, told.output
    statuses = [row.status for row in outbox_dump(sqlite_url)]
    assert statuses.count("cancelled") == started
    assert statuses.count("sent") == due - started == len(smtp_server.handler.received)


def make_due(url: str, *, at: dt.datetime, started: int, fresh: int) -> None:
    """`started` pending reminders whose sessions had started by `at`, and `fresh` ones whose
    sessions had not, all due at `at`; every other message stays in the future."""
    engine = make_engine(url)
    with engine.begin() as connection:
        reminders = connection.execute(
            sa.select(OUTBOX.c.id, OUTBOX.c.subject_key)
            .where(OUTBOX.c.status == "pending")
            .order_by(OUTBOX.c.subject_key.desc(), OUTBOX.c.id)
        ).all()
        stale = reminders[:started]
        sessions = {r.subject_key for r in stale}
        others = [r for r in reminders if r.subject_key not in sessions][:fresh]
        connection.execute(
            sa.update(SESSION)
            .where(SESSION.c.key.in_(sessions))
            .values(starts_at=at - dt.timedelta(hours=1))
        )
        due = [r.id for r in [*stale, *others]]
        connection.execute(
            sa.update(OUTBOX).where(OUTBOX.c.id.in_(due)).values(send_at=at - dt.timedelta(hours=2))
        )
    engine.dispose()


def test_stale_messages_under_the_limit_are_cancelled_without_asking(
    env: dict[str, str | None], sqlite_url: str, smtp_server: Any
) -> None:
    """11 of 61 (18%): more than ten, but not more than a fifth of the pass: cancelled."""
    sent = invoke(env, "dispatch", "--now", REHEARSAL)
    assert sent.exit_code == 0, sent.output
    at = dt.datetime(2024, 5, 2, 12, tzinfo=dt.UTC)
    make_due(sqlite_url, at=at, started=STALE_COUNT_LIMIT + 1, fresh=50)
    passed = invoke(env, "dispatch", "--now", "2024-05-02T12:00Z")
    assert passed.exit_code == 0, passed.output
    assert " 50 sent, 0 failed, 0 to retry, 11 cancelled," in passed.stdout
