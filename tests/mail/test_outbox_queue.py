"""What apply puts in the outbox: once per logical message, reminders re-timed and cancelled."""

from __future__ import annotations

import asyncio
import datetime as dt
import doctest
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from accel.inputs import load_inputs
from mail import dispatcher, reminders
from mail import queue as outbox_queue
from mail.dispatcher import DispatchOptions, send_due_messages
from mail.reminders import reminder_send_at
from mail.senders import FileSender

QUIET = (dt.time(22), dt.time(7))
MASTERCLASS = "test-small/masterclass/01"


def send_all(engine: sa.Engine, folder: Path, now: dt.datetime) -> Any:
    """Deliver what is due to .eml files, so that later changes see it as sent."""
    return asyncio.run(
        send_due_messages(engine, now=now, sender=FileSender(folder), options=DispatchOptions())
    )


def by_key(rows: list[Any]) -> dict[str, Any]:
    return {r.idempotency_key: r for r in rows}


def test_apply_twice_queues_nothing(
    sqlite_engine: sa.Engine, small_workspace: Path, helpers: Any, database_dump: Any
) -> None:
    helpers.apply(sqlite_engine, small_workspace)
    rows = helpers.outbox_rows(sqlite_engine)
    assert Counter(r.kind for r in rows) == {"invitation": 373, "session_reminder": 409}
    assert len({r.idempotency_key for r in rows}) == len(rows)
    before = database_dump(sqlite_engine)
    later = helpers.before_program + dt.timedelta(days=2)
    assert helpers.apply(sqlite_engine, small_workspace, later).is_empty
    assert database_dump(sqlite_engine) == before


def test_one_reminder_per_session_attendee_and_offset(
    sqlite_engine: sa.Engine, small_workspace: Path, helpers: Any
) -> None:
    helpers.apply(sqlite_engine, small_workspace)
    timeline = load_inputs(small_workspace).timeline
    wanted = {
        # On the recipient's weekend or holiday: the same wall time, previous business day.
        f"reminder:{s.key}:{a.person}:{int(o.total_seconds())}": timeline.days_off[
            a.person
        ].earlier_business_moment(s.starts_at - o)
        for s in timeline.sessions
        for a in s.attendees
        for o in s.reminders
    }
    reminders = by_key(helpers.outbox_rows(sqlite_engine, kind="session_reminder"))
    assert set(reminders) == set(wanted)
    # Working-hours sessions put no reminder of this cohort in quiet hours: no quiet move.
    assert all(row.send_at == wanted[key] for key, row in reminders.items())
    invitation = helpers.outbox_rows(sqlite_engine, kind="invitation")[0]
    assert invitation.idempotency_key == (
        f"invitation:{invitation.subject_key}:{invitation.email}:0"
    )


def test_nothing_is_queued_for_sessions_started_at_now(
    sqlite_engine: sa.Engine, small_workspace: Path, helpers: Any
) -> None:
    now = dt.datetime(2024, 8, 20, tzinfo=dt.UTC)
    helpers.apply(sqlite_engine, small_workspace, now)
    rows = helpers.outbox_rows(sqlite_engine)
    sessions = {s.key: s for s in load_inputs(small_workspace).timeline.sessions}
    assert rows and all(sessions[r.subject_key].starts_at > now for r in rows)
    assert all(r.send_at > now for r in rows if r.kind == "session_reminder")


def test_moved_session_retimes_reminders_and_threads_updates(
    sqlite_engine: sa.Engine, small_workspace: Path, helpers: Any, tmp_path: Path
) -> None:
    helpers.apply(sqlite_engine, small_workspace)
    send_all(sqlite_engine, tmp_path / "out", helpers.before_program)
    old = by_key(helpers.outbox_rows(sqlite_engine))
    invitations = {(r.subject_key, r.email): r for r in old.values() if r.kind == "invitation"}
    later = helpers.before_program + dt.timedelta(days=1)
    helpers.edit(
        small_workspace.parent.parent / "programs" / "cda-accelerator.yaml",
        'times: ["12:00"]',
        'times: ["13:00"]',
    )
    helpers.apply(sqlite_engine, small_workspace, later)
    rows = by_key(helpers.outbox_rows(sqlite_engine))
    updates = [r for r in rows.values() if r.kind == "update"]
    assert {r.subject_key for r in updates} == {f"test-small/masterclass/0{n}" for n in range(1, 6)}
    days_off = load_inputs(small_workspace).timeline.days_off
    for update in updates:
        invitation = invitations[(update.subject_key, update.email)]
        assert update.sequence == 1 and update.status == "pending"
        # At once, except on the recipient's day off (1 May is Labour Day in most of them).
        off = days_off[update.email]
        if off.is_off(later.astimezone(ZoneInfo(off.zone)).date()):
            assert update.send_at == off.later_business_moment(later)
        else:
            assert update.send_at == later
        assert update.idempotency_key == f"update:{update.subject_key}:{update.email}:1"
        assert update.in_reply_to == invitation.message_id
        assert update.previous_starts_at == invitation.starts_at
        assert update.starts_at == invitation.starts_at + dt.timedelta(hours=1)
    moved = [k for k in rows if k.startswith("reminder:test-small/masterclass/")]
    assert moved and all(
        rows[k].send_at == old[k].send_at + dt.timedelta(hours=1) and rows[k].status == "pending"
        for k in moved
    )
    untouched = [k for k in rows if k.startswith("reminder:test-small/coaching/")]
    assert all(rows[k].send_at == old[k].send_at for k in untouched)


def test_change_before_sending_supersedes_the_unsent_invitation(
    sqlite_engine: sa.Engine, small_workspace: Path, helpers: Any
) -> None:
    helpers.apply(sqlite_engine, small_workspace)
    helpers.edit(
        small_workspace.parent.parent / "programs" / "cda-accelerator.yaml",
        'times: ["12:00"]',
        'times: ["13:00"]',
    )
    helpers.apply(sqlite_engine, small_workspace)
    mine = [
        r
        for r in helpers.outbox_rows(sqlite_engine, subject_key=MASTERCLASS)
        if r.email == "c.soto@santiago.example.org" and r.kind != "session_reminder"
    ]
    assert [(r.kind, r.sequence, r.status) for r in mine] == [
        ("invitation", 0, "cancelled"),
        ("invitation", 1, "pending"),
    ]
    assert mine[0].last_error == "superseded by a newer change"
    assert mine[1].in_reply_to is None and mine[1].previous_starts_at is None


def test_cancelled_session_cancels_its_reminders_and_restoring_revives_them(
    sqlite_engine: sa.Engine, small_workspace: Path, helpers: Any, tmp_path: Path
) -> None:
    program = small_workspace.parent.parent / "programs" / "cda-accelerator.yaml"
    helpers.apply(sqlite_engine, small_workspace)
    send_all(sqlite_engine, tmp_path / "out", helpers.before_program)
    rule = 'COUNT=11"\n      starts: convening+P2W'
    helpers.edit(program, rule, rule.replace("11", "10"))
    helpers.apply(sqlite_engine, small_workspace)
    gone = "test-small/coaching/santiago/11"
    reminders = helpers.outbox_rows(sqlite_engine, subject_key=gone, kind="session_reminder")
    assert len(reminders) == 4  # three team members and the coach, one offset
    assert {(r.status, r.last_error) for r in reminders} == {
        ("cancelled", "the session was cancelled")
    }
    cancellations = helpers.outbox_rows(sqlite_engine, subject_key=gone, kind="cancellation")
    assert len(cancellations) == 4 and {r.sequence for r in cancellations} == {1}
    assert all(r.in_reply_to and r.starts_at for r in cancellations)
    helpers.edit(program, rule.replace("11", "10"), rule)
    helpers.apply(sqlite_engine, small_workspace)
    reminders = helpers.outbox_rows(sqlite_engine, subject_key=gone, kind="session_reminder")
    assert {r.status for r in reminders} == {"pending"} and len(reminders) == 4
    fresh = helpers.outbox_rows(sqlite_engine, subject_key=gone, kind="invitation")
    assert sorted(r.sequence for r in fresh) == [0] * 4 + [2] * 4


def test_removed_person_loses_pending_reminders_and_unsent_invitations(
    sqlite_engine: sa.Engine, small_workspace: Path, helpers: Any
) -> None:
    helpers.apply(sqlite_engine, small_workspace)
    helpers.edit(
        small_workspace,
        "{name: Ignacio Vera, email: i.vera@santiago.example.org",
        "{name: Inés Vidal, email: i.vidal@santiago.example.org",
    )
    helpers.apply(sqlite_engine, small_workspace)
    vera = helpers.outbox_rows(sqlite_engine, email="i.vera@santiago.example.org")
    assert vera and {r.status for r in vera} == {"cancelled"}
    assert {r.last_error for r in vera if r.kind == "session_reminder"} == {"no longer an attendee"}
    # Never told about the sessions, so no cancellation is sent either.
    assert not [r for r in vera if r.kind == "cancellation"]
    vidal = Counter(
        (r.kind, r.status)
        for r in helpers.outbox_rows(sqlite_engine, email="i.vidal@santiago.example.org")
    )
    assert vidal[("invitation", "pending")] > 0 and vidal[("session_reminder", "pending")] > 0


def test_quiet_hours_follow_each_recipients_zone(
    sqlite_engine: sa.Engine, small_workspace: Path, helpers: Any
) -> None:
    # Quiet from 09:00 to 23:00: every working-hours reminder falls inside and must move.
    helpers.edit(
        small_workspace.parent.parent / "programs" / "cda-accelerator.yaml",
        'quiet_hours: ["22:00", "07:00"]',
        'quiet_hours: ["09:00", "23:00"]',
    )
    helpers.apply(sqlite_engine, small_workspace)
    inputs = load_inputs(small_workspace)
    people = inputs.timeline.people
    starts = {s.key: s.starts_at for s in inputs.timeline.sessions}
    reminders = helpers.outbox_rows(sqlite_engine, kind="session_reminder")
    assert len(reminders) == 409
    for row in reminders:
        local = row.send_at.astimezone(ZoneInfo(people[row.email].timezone)).time()
        assert not dt.time(9) <= local < dt.time(23), (row.idempotency_key, local)
        assert helpers.before_program < row.send_at < starts[row.subject_key]


ZONES = [
    "America/Santiago",
    "America/Asuncion",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Bogota",
]


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=dt.datetime(2024, 6, 1),
        max_value=dt.datetime(2024, 12, 31),
        timezones=st.just(dt.UTC),
    ),
    minutes=st.integers(min_value=5, max_value=10 * 24 * 60),
    zone=st.sampled_from(ZONES),
)
def test_a_reminder_never_lands_in_quiet_hours_nor_after_the_start(
    start: dt.datetime, minutes: int, zone: str
) -> None:
    offset = dt.timedelta(minutes=minutes)
    sent = reminder_send_at(start, offset, zone=zone, quiet=QUIET)
    local = sent.astimezone(ZoneInfo(zone)).time()
    assert not (local >= QUIET[0] or local < QUIET[1])
    assert sent < start
    # It moves only when it had to, and never by more than the quiet hours plus one hour.
    if sent != start - offset:
        intended = (start - offset).astimezone(ZoneInfo(zone)).time()
        assert intended >= QUIET[0] or intended < QUIET[1]
        assert abs(sent - (start - offset)) <= dt.timedelta(hours=10)


@pytest.mark.parametrize(
    ("starts_at", "offset", "zone", "expected"),
    [
        # Santiago moved its clocks on 8 Sep 2024 at 00:00 (UTC−4 -> UTC−3): a 23:30 reminder the
        # night before goes at 21:00 UTC−4.
        (
            dt.datetime(2024, 9, 9, 3, 30),
            dt.timedelta(days=1),
            "America/Santiago",
            dt.datetime(2024, 9, 8, 1, 0),
        ),
        # Asunción, 06:00 local for a 09:00 session: forward to 07:00 (UTC−3 in October).
        (
            dt.datetime(2024, 10, 15, 12),
            dt.timedelta(hours=3),
            "America/Asuncion",
            dt.datetime(2024, 10, 15, 10),
        ),
        # Mexico City, 06:30 local for a 07:15 session: 07:00 is still before it.
        (
            dt.datetime(2024, 7, 10, 13, 15),
            dt.timedelta(minutes=45),
            "America/Mexico_City",
            dt.datetime(2024, 7, 10, 13),
        ),
        # São Paulo, 06:30 for a 07:00 session: 07:00 is not before it, so 21:00 the day before.
        (
            dt.datetime(2024, 7, 10, 10),
            dt.timedelta(minutes=30),
            "America/Sao_Paulo",
            dt.datetime(2024, 7, 10, 0),
        ),
    ],
)
def test_quiet_hours_rule_in_zones_with_and_without_clock_changes(
    starts_at: dt.datetime, offset: dt.timedelta, zone: str, expected: dt.datetime
) -> None:
    utc = dt.UTC
    got = reminder_send_at(starts_at.replace(tzinfo=utc), offset, zone=zone, quiet=QUIET)
    assert got == expected.replace(tzinfo=utc)


@pytest.mark.parametrize("module", [outbox_queue, reminders, dispatcher])
def test_doctests(module: Any) -> None:
    assert doctest.testmod(module).failed == 0


def test_nothing_is_sent_for_a_session_that_started_while_the_dispatcher_was_down(
    sqlite_engine: Any, small_workspace: Path, helpers: Any, settings_for: Any
) -> None:
    helpers.apply(sqlite_engine, small_workspace)
    pending = helpers.outbox_rows(sqlite_engine, kind="invitation", status="pending")
    assert pending
    # The dispatcher comes back after every session of the program has started.
    late = dt.datetime(2025, 1, 15, tzinfo=dt.UTC)
    settings = settings_for(helpers.free_port())
    held = helpers.dispatch(sqlite_engine, settings, now=late)  # all of it: a wrong clock?
    assert held.held is not None and held.held.started == held.held.due > len(pending)
    report = helpers.dispatch(sqlite_engine, settings, now=late, cancel_stale=True)
    assert report.sent == 0 and report.cancelled > 0
    statuses = {r.status for r in helpers.outbox_rows(sqlite_engine, kind="invitation")}
    assert statuses == {"cancelled"}
