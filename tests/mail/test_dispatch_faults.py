"""A misbehaving SMTP server: retries with backoff, permanent refusals, dropped connections."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import icalendar
import sqlalchemy as sa

from mail.dispatcher import BATCH_SIZE, LEASE

COACHING = "test-tiny/coaching/santiago/01"
SOTO = "c.soto@santiago.example.org"


def row_for(helpers: Any, engine: sa.Engine, email: str, session: str, kind: str) -> Any:
    (row,) = [
        r for r in helpers.outbox_rows(engine, email=email, subject_key=session) if r.kind == kind
    ]
    return row


def test_temporary_replies_are_retried_with_backoff_then_delivered(
    sqlite_engine: sa.Engine,
    tiny_workspace: Path,
    helpers: Any,
    smtp_server: Any,
    settings_for: Any,
) -> None:
    helpers.apply(sqlite_engine, tiny_workspace)
    target = row_for(helpers, sqlite_engine, SOTO, COACHING, "invitation")
    smtp_server.handler.data_replies[target.message_id] = [
        "421 4.3.2 Service shutting down, try later",
        "451 4.7.1 Greylisted, come back later",
    ]
    settings = settings_for(smtp_server.port)
    now = helpers.before_program

    first = helpers.dispatch(sqlite_engine, settings, now=now)
    assert (first.sent, first.retried, first.failed) == (136, 1, 0)
    row = row_for(helpers, sqlite_engine, SOTO, COACHING, "invitation")
    assert (row.status, row.attempts, row.claimed_by) == ("pending", 1, None)
    assert row.last_error == "421 4.3.2 Service shutting down, try later"
    # Backoff with jitter: between half and all of one minute after the attempt.
    assert now + dt.timedelta(seconds=30) <= row.send_at <= now + dt.timedelta(seconds=90)

    assert helpers.dispatch(sqlite_engine, settings, now=now).sent == 0  # not due yet
    second = helpers.dispatch(sqlite_engine, settings, now=row.send_at)
    assert (second.sent, second.retried) == (0, 1)
    again = row_for(helpers, sqlite_engine, SOTO, COACHING, "invitation")
    assert (again.attempts, again.last_error) == (2, "451 4.7.1 Greylisted, come back later")
    assert row.send_at + dt.timedelta(minutes=1) <= again.send_at

    third = helpers.dispatch(sqlite_engine, settings, now=again.send_at)
    assert third.sent == 1
    done = row_for(helpers, sqlite_engine, SOTO, COACHING, "invitation")
    assert (done.status, done.attempts, done.last_error) == ("sent", 3, None)
    assert smtp_server.handler.data_seen[target.message_id] == 3
    assert smtp_server.handler.ids()[target.message_id] == 1
    assert len(smtp_server.handler.received) == 137


def test_permanent_refusal_is_recorded_and_the_others_are_delivered(
    sqlite_engine: sa.Engine,
    tiny_workspace: Path,
    helpers: Any,
    smtp_server: Any,
    settings_for: Any,
) -> None:
    helpers.apply(sqlite_engine, tiny_workspace)
    refused = "i.vera@santiago.example.org"
    reply = "550 5.1.1 <i.vera@santiago.example.org>: Recipient address rejected: User unknown"
    smtp_server.handler.rcpt_replies[refused] = reply
    report = helpers.dispatch(
        sqlite_engine, settings_for(smtp_server.port), now=helpers.before_program
    )
    mine = helpers.outbox_rows(sqlite_engine, email=refused, kind="invitation")
    assert report.failed == len(mine) > 0 and report.sent == 137 - len(mine)
    assert {(r.status, r.last_error, r.attempts) for r in mine} == {("failed", reply, 1)}
    assert report.errors == {reply: len(mine)}
    assert not smtp_server.handler.to(refused)


def test_connection_dropped_mid_message_is_retried(
    sqlite_engine: sa.Engine,
    tiny_workspace: Path,
    helpers: Any,
    smtp_server: Any,
    settings_for: Any,
) -> None:
    helpers.apply(sqlite_engine, tiny_workspace)
    target = row_for(helpers, sqlite_engine, SOTO, COACHING, "invitation")
    smtp_server.handler.data_replies[target.message_id] = [helpers.drop]
    settings = settings_for(smtp_server.port)
    first = helpers.dispatch(sqlite_engine, settings, now=helpers.before_program)
    assert (first.sent, first.retried) == (136, 1)
    row = row_for(helpers, sqlite_engine, SOTO, COACHING, "invitation")
    assert row.status == "pending" and row.last_error.startswith("connection lost")
    second = helpers.dispatch(sqlite_engine, settings, now=row.send_at)
    assert second.sent == 1
    assert smtp_server.handler.data_seen[target.message_id] == 2
    assert set(smtp_server.handler.ids().values()) == {1}
    assert len(smtp_server.handler.received) == 137


def test_unreachable_server_defers_without_spending_attempts(
    sqlite_engine: sa.Engine,
    tiny_workspace: Path,
    helpers: Any,
    settings_for: Any,
) -> None:
    helpers.apply(sqlite_engine, tiny_workspace)
    nobody = helpers.free_port()  # nothing listens there
    report = helpers.dispatch(sqlite_engine, settings_for(nobody), now=helpers.before_program)
    assert report.sent == report.failed == report.retried == 0
    # The batch being sent and the one claimed ahead go back; then the pass stops claiming.
    assert 0 < report.deferred <= 2 * BATCH_SIZE
    rows = helpers.outbox_rows(sqlite_engine, kind="invitation")
    assert {(r.status, r.attempts) for r in rows} == {("pending", 0)}
    assert all(r.last_error.startswith("cannot connect") for r in rows if r.last_error)


def test_updates_thread_under_the_invitation_and_cancellations_cancel(
    sqlite_engine: sa.Engine,
    tiny_workspace: Path,
    helpers: Any,
    smtp_server: Any,
    settings_for: Any,
) -> None:
    program = tiny_workspace.parent.parent / "programs" / "cda-accelerator.yaml"
    settings = settings_for(smtp_server.port)
    helpers.apply(sqlite_engine, tiny_workspace)
    helpers.dispatch(sqlite_engine, settings, now=helpers.before_program)
    # Thursday 2 May: the day before is Labour Day, when an update would wait a business day.
    later = helpers.before_program + dt.timedelta(days=2)
    helpers.edit(program, 'times: ["12:00"]', 'times: ["13:00"]')  # masterclasses move
    rule = 'COUNT=11"\n      starts: convening+P2W'
    helpers.edit(program, rule, rule.replace("11", "10"))  # the last coaching sessions go
    helpers.apply(sqlite_engine, tiny_workspace, later)
    report = helpers.dispatch(sqlite_engine, settings, now=later)
    assert report.sent == 5 * 5 + 4  # 5 attendees of each masterclass, 4 of the coaching

    invitation = row_for(helpers, sqlite_engine, SOTO, "test-tiny/masterclass/02", "invitation")
    update_row = row_for(helpers, sqlite_engine, SOTO, "test-tiny/masterclass/02", "update")
    (update,) = [
        r.message for r in smtp_server.handler.received if r.message_id == update_row.message_id
    ]
    assert update["In-Reply-To"] == update["References"] == invitation.message_id
    assert str(update["Subject"]).startswith("Actualización: Clase magistral")
    calendar_part = update.get_payload()[0].get_payload()[2]
    event = icalendar.Calendar.from_ical(calendar_part.get_content()).walk("VEVENT")[0]
    assert event.decoded("SEQUENCE") == 1 and event.decoded("DTSTART") == update_row.starts_at
    text = update.get_payload()[0].get_payload()[0].get_content()
    assert "Antes del cambio" in text  # the previous time is shown

    cancel_row = row_for(
        helpers, sqlite_engine, SOTO, "test-tiny/coaching/santiago/11", "cancellation"
    )
    (cancel,) = [
        r.message for r in smtp_server.handler.received if r.message_id == cancel_row.message_id
    ]
    part = cancel.get_payload()[0].get_payload()[2]
    calendar = icalendar.Calendar.from_ical(part.get_content())
    (event,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == part.get_param("method") == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED" and event.decoded("SEQUENCE") == 1
    assert cancel["In-Reply-To"] is not None


def test_reminders_carry_no_invitation_and_expire_once_the_session_started(
    sqlite_engine: sa.Engine,
    tiny_workspace: Path,
    helpers: Any,
    smtp_server: Any,
    settings_for: Any,
) -> None:
    settings = settings_for(smtp_server.port)
    helpers.apply(sqlite_engine, tiny_workspace)
    helpers.dispatch(sqlite_engine, settings, now=helpers.before_program)
    week_before = dt.datetime(2024, 6, 20, tzinfo=dt.UTC)  # the convening's 7-day reminders
    report = helpers.dispatch(sqlite_engine, settings, now=week_before)
    reminders = helpers.outbox_rows(sqlite_engine, kind="session_reminder", status="sent")
    assert report.sent == len(reminders) == 3  # the mayor, the coach, the organizer
    for row in reminders:
        (message,) = [
            r.message for r in smtp_server.handler.received if r.message_id == row.message_id
        ]
        # A reminder must not carry a REQUEST: that is how duplicate events are made.
        assert message.get_content_type() == "multipart/alternative"
        assert "text/calendar" not in {p.get_content_type() for p in message.walk()}
    # Dispatch resumes only after the convening began: its 1-day reminders lost their purpose.
    late = dt.datetime(2024, 6, 27, tzinfo=dt.UTC)
    late_report = helpers.dispatch(sqlite_engine, settings, now=late)
    expired = [
        r
        for r in helpers.outbox_rows(
            sqlite_engine, kind="session_reminder", subject_key="test-tiny/convening"
        )
        if r.status == "cancelled"
    ]
    assert late_report.cancelled == len(expired) == 3
    assert {r.last_error for r in expired} == {
        "the session had started before the message could be sent"
    }


def test_a_stale_claim_is_taken_over_after_the_lease(
    sqlite_engine: sa.Engine,
    tiny_workspace: Path,
    helpers: Any,
    smtp_server: Any,
    settings_for: Any,
) -> None:
    helpers.apply(sqlite_engine, tiny_workspace)
    now = helpers.before_program
    table = sa.table(
        "outbox_message", sa.column("status"), sa.column("claimed_by"), sa.column("id")
    )
    with sqlite_engine.begin() as connection:  # a dispatcher that died holding ten rows
        connection.execute(
            sa.text(
                "UPDATE outbox_message SET status='sending', claimed_by='dead:1', claimed_at=:at "
                "WHERE id <= 10"
            ),
            {"at": now.replace(tzinfo=None)},
        )
    settings = settings_for(smtp_server.port)
    within = helpers.dispatch(sqlite_engine, settings, now=now + LEASE - dt.timedelta(seconds=1))
    assert (within.sent, within.reclaimed) == (127, 0)
    after = helpers.dispatch(sqlite_engine, settings, now=now + LEASE)
    assert (after.sent, after.reclaimed) == (10, 10)
    with sqlite_engine.connect() as connection:
        statuses = set(connection.execute(sa.select(table.c.status)).scalars())
    assert "sending" not in statuses


def test_a_pass_stalled_for_half_the_lease_sends_nothing_it_claimed_before(
    sqlite_engine: sa.Engine,
    tiny_workspace: Path,
    helpers: Any,
    smtp_server: Any,
    settings_for: Any,
) -> None:
    """A row claimed long ago may be taken over by another dispatcher once the lease ends:
    a pass that stalled (a slow server or database) puts it back instead of sending it."""
    helpers.apply(sqlite_engine, tiny_workspace)
    stall = (LEASE / 2).total_seconds()
    ticks = iter(range(0, 10**9, int(stall)))  # every reading of the clock: half a lease later
    report = helpers.dispatch(
        sqlite_engine,
        settings_for(smtp_server.port),
        now=helpers.before_program,
        clock=lambda: float(next(ticks)),
    )
    assert report.sent == 0 and report.deferred > 0, report
    assert smtp_server.handler.ids() == {}
    rows = helpers.outbox_rows(sqlite_engine, kind="invitation")
    assert {(r.status, r.attempts) for r in rows} == {("pending", 0)}

    # The same pass with a clock that does not stall sends them all.
    report = helpers.dispatch(
        sqlite_engine, settings_for(smtp_server.port), now=helpers.before_program
    )
    assert report.sent == len(rows) and report.deferred == 0, report
