"""Change notices go only to people whose own invitation changed; a removed person is told so.

Each calendar copy lists only its own recipient (`mail/render.py`), so a change to who else
attends is nobody else's news: before, replacing one member sent an update to every attendee
of every session that member was in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from accel.inputs import load_inputs
from calendars.fingerprints import fingerprint, session_content
from calendars.reconcile import Action, StoredSession, StoredState, reconcile
from cli.main import app
from mail.dispatcher import DispatchOptions, send_due_messages
from mail.senders import FileSender
from models.outbox import OUTBOX

OLD = "{name: Ignacio Vera, email: i.vera@santiago.example.org"
NEW = "{name: Inés Vidal, email: i.vidal@santiago.example.org"


def _sent(engine: sa.Engine) -> None:
    with engine.begin() as connection:  # as if the dispatcher had sent every invitation
        connection.execute(
            sa.update(OUTBOX).where(OUTBOX.c.kind == "invitation").values(status="sent")
        )


def test_replacing_a_member_updates_nobody_else(
    sqlite_engine: sa.Engine, small_workspace: Path, helpers: Any
) -> None:
    helpers.apply(sqlite_engine, small_workspace)
    _sent(sqlite_engine)
    before = {r.id for r in helpers.outbox_rows(sqlite_engine)}
    helpers.edit(small_workspace, OLD, NEW)
    helpers.apply(sqlite_engine, small_workspace)
    new = [r for r in helpers.outbox_rows(sqlite_engine) if r.id not in before]
    kinds = Counter((r.kind, r.email) for r in new if r.kind != "session_reminder")
    assert not [k for k in kinds if k[0] == "update"], kinds  # it sent one per co-attendee
    removed = {k for k in kinds if k[1] == "i.vera@santiago.example.org"}
    assert removed and {k for k, _ in removed} == {"removal"}
    assert kinds[("invitation", "i.vidal@santiago.example.org")] > 0
    assert set(kinds) == removed | {k for k in kinds if k[1] == "i.vidal@santiago.example.org"}


def test_a_removed_person_reads_a_removal_and_loses_the_calendar_entry(
    sqlite_engine: sa.Engine, small_workspace: Path, helpers: Any, tmp_path: Path
) -> None:
    helpers.apply(sqlite_engine, small_workspace)
    _sent(sqlite_engine)
    helpers.edit(small_workspace, OLD, NEW)
    helpers.apply(sqlite_engine, small_workspace)
    with sqlite_engine.begin() as connection:  # only the removals, to read them
        connection.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.kind != "removal", OUTBOX.c.status == "pending")
            .values(status="cancelled")
        )
    asyncio.run(
        send_due_messages(
            sqlite_engine,
            now=helpers.before_program + dt.timedelta(hours=1),
            sender=FileSender(tmp_path),
            options=DispatchOptions(),
        )
    )
    files = sorted(tmp_path.glob("*-removal.eml"))
    assert files
    for path in files:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        plain = message.get_body(("plain",))
        assert plain is not None
        body = plain.get_content()
        assert "ya no figura entre los participantes" in body, body
        assert "cancelada" not in body and "reprograma" not in body
        calendar = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        raw: Any = calendar.get_payload(decode=True)
        assert b"METHOD:CANCEL" in raw and raw.count(b"BEGIN:VEVENT") == 1


def test_a_required_flag_change_updates_only_that_person(small_workspace: Path) -> None:
    """Reconcile, pure: the stored attendee list differs only in one person's flag."""
    inputs = load_inputs(small_workspace)
    session = next(s for s in inputs.timeline.sessions if s.series == "coaching")
    attendees = {a.person: (a.required, "scheduled") for a in session.attendees}
    flipped = next(iter(attendees))
    attendees[flipped] = (not attendees[flipped][0], "scheduled")
    stored = StoredState(
        sessions={
            session.key: StoredSession(
                session.key,
                session.city_id,
                fingerprint(session_content(session)),
                "scheduled",
                0,
                session.starts_at,
                session.ends_at,
                session.location,
                attendees,
            )
        }
    )
    now = session.starts_at - dt.timedelta(days=30)
    plan = reconcile(inputs.timeline, stored, now)
    mine = [i for i in plan.invitations if i.session_key == session.key]
    assert [(i.action, i.email) for i in mine] == [(Action.UPDATE, flipped)]


def test_plan_counts_emails_per_kind(
    small_workspace: Path, sqlite_url: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("ACCEL_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    now = "2024-05-01T13:00Z"
    assert (
        runner.invoke(app, ["apply", "--cohort", str(small_workspace), "--now", now]).exit_code == 0
    )
    small_workspace.write_text(small_workspace.read_text().replace(OLD, NEW, 1))
    text = runner.invoke(app, ["plan", "--cohort", str(small_workspace), "--now", now])
    assert text.exit_code == 0, text.output
    assert "notices to queue (at most):" in text.output and "removals" in text.output
    as_json = runner.invoke(app, ["plan", "--cohort", str(small_workspace), "--now", now, "--json"])
    counts = json.loads(as_json.stdout)["messages"]
    assert set(counts) == {"invitations", "updates", "removals", "cancellations"}
    assert counts["updates"] == 0 and counts["removals"] > 0 and counts["invitations"] > 0
