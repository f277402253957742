"""`accel outbox list`, the failed-messages hint, and what `accel dispatch` says it cancelled."""

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
from models.outbox import OUTBOX

NOW = "2024-05-01T00:00Z"
HINT = "failed: `accel outbox list` shows them, `accel outbox retry ID` sends one again."
# Several lines, longer than the table shows, with text rich would read as markup.
REPLY = "550-5.1.1 [bold]User unknown[/bold] :smile:\n550 5.1.1 " + "x" * 80 + " END"

runner = CliRunner()


def invoke(env: dict[str, str | None], *args: str) -> Any:
    return runner.invoke(app, list(args), env=env)


@pytest.fixture
def env(tmp_path: Path, sqlite_url: str, tiny_workspace: Path) -> dict[str, str | None]:
    """The embedded setup (.eml files) with the one-city cohort applied before the program."""
    settings: dict[str, str | None] = {
        "ACCEL_DATABASE_URL": sqlite_url,
        "ACCEL_SMTP_HOST": None,
        "ACCEL_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    applied = invoke(settings, "apply", "--cohort", str(tiny_workspace), "--now", NOW)
    assert applied.exit_code == 0, applied.output
    return settings


def test_list_shows_failed_messages_with_ids_recipients_and_errors(
    env: dict[str, str | None], sqlite_url: str, helpers: Any
) -> None:
    engine = make_engine(sqlite_url)
    first = helpers.outbox_rows(engine)[0]
    last = helpers.outbox_rows(engine)[-1]
    early = dt.datetime(2024, 4, 30, 8, 15, tzinfo=dt.UTC)
    with engine.begin() as connection:
        # A recipient no longer stored: the dispatcher cannot render it and marks it failed.
        connection.execute(
            sa.update(OUTBOX).where(OUTBOX.c.id == first.id).values(email="ghost@x.example")
        )
        # As a 550 would leave it, and due earlier than anything else: listed first.
        connection.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == last.id)
            .values(status="failed", attempts=1, last_error=REPLY, send_at=early)
        )
    counts = invoke(env, "outbox")
    assert counts.exit_code == 0 and "1 failed:" in counts.stdout
    assert counts.stdout.rstrip().endswith("1 " + HINT)

    dispatched = invoke(env, "dispatch", "--now", NOW)
    assert dispatched.exit_code == 1, dispatched.output  # a message failed in the pass
    assert "1 failed," in dispatched.stdout
    assert f"1 message failed in this pass (ids {first.id}): " in dispatched.stderr
    assert invoke(env, "outbox").stdout.rstrip().endswith("2 " + HINT)

    listed = invoke(env, "outbox", "list")
    assert listed.exit_code == 0, listed.output
    header, *lines = listed.stdout.splitlines()
    assert header.split()[:5] == ["id", "kind", "city", "email", "send_at"]
    assert [line.split()[0] for line in lines] == [str(last.id), str(first.id)]
    assert lines[0].split()[1:6] == [
        last.kind,
        last.city_id,
        last.email,
        "2024-04-30T08:15:00Z",
        "1",
    ]
    # The error on one line, as written (not styled), cut short.
    assert "550-5.1.1 [bold]User unknown[/bold] :smile: 550 5.1.1 xx" in lines[0]
    assert lines[0].endswith("…") and "END" not in lines[0]
    assert "ghost@x.example" in lines[1] and "cannot render" in lines[1]

    as_json = invoke(env, "outbox", "list", "--json")
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert document["status"] == "failed" and document["total"] == 2
    failed_first, failed_second = document["messages"]
    assert failed_first == {
        "id": last.id,
        "kind": last.kind,
        "city": last.city_id,
        "email": last.email,
        "send_at": "2024-04-30T08:15:00Z",
        "attempts": 1,
        "last_error": REPLY,
    }
    assert failed_second["id"] == first.id and failed_second["email"] == "ghost@x.example"
    assert failed_second["last_error"].startswith("cannot render: ")

    # The id it shows is the one `retry` takes.
    assert invoke(env, "outbox", "retry", str(last.id), "--now", NOW).exit_code == 0
    assert [
        m["id"] for m in json.loads(invoke(env, "outbox", "list", "--json").stdout)["messages"]
    ] == [first.id]
    engine.dispose()


def test_list_filters_sorts_and_limits(
    env: dict[str, str | None], sqlite_url: str, helpers: Any
) -> None:
    engine = make_engine(sqlite_url)
    reminders = [
        r
        for r in helpers.outbox_rows(engine, status="pending", kind="session_reminder")
        if r.city_id == "santiago"
    ]
    expected = sorted(reminders, key=lambda r: (r.send_at, r.id))
    engine.dispose()
    assert len(expected) > 3
    filters = ["--status", "pending", "--kind", "session_reminder", "--city", "santiago"]

    document = json.loads(invoke(env, "outbox", "list", *filters, "--limit", "3", "--json").stdout)
    assert document["total"] == len(expected)
    assert [m["id"] for m in document["messages"]] == [r.id for r in expected[:3]]
    assert {(m["kind"], m["city"]) for m in document["messages"]} == {
        ("session_reminder", "santiago")
    }

    table = invoke(env, "outbox", "list", *filters, "--limit", "3")
    assert table.exit_code == 0, table.output
    assert f"... and {len(expected) - 3} more ({len(expected)} in all)" in table.stdout

    assert "No failed messages." in invoke(env, "outbox", "list").stdout
    assert "accel outbox list" not in invoke(env, "outbox").stdout  # no hint: no failures
    assert invoke(env, "outbox", "list", "--status", "lost").exit_code == 2
    assert invoke(env, "outbox", "list", "--kind", "postcard").exit_code == 2


def test_dispatch_says_why_it_cancelled_and_as_of_when(
    env: dict[str, str | None], sqlite_url: str, helpers: Any
) -> None:
    on_time = invoke(env, "dispatch", "--now", NOW)
    assert on_time.exit_code == 0, on_time.output
    assert "dispatched as of 2024-05-01T00:00:00Z to " in on_time.stdout
    assert " 0 cancelled," in on_time.stdout and "cancelled" not in on_time.stderr

    # Long after the program: every session has started, so nothing left is worth sending.
    # So much to cancel looks like a wrong clock: the pass stops until told it is right.
    held = invoke(env, "dispatch", "--now", "2025-03-01T12:00:00-03:00")
    assert held.exit_code == 2, held.output
    assert "150 of the 150 due messages (100%)" in held.stderr
    late = invoke(env, "dispatch", "--now", "2025-03-01T12:00:00-03:00", "--cancel-stale")
    assert late.exit_code == 0, late.output
    engine = make_engine(sqlite_url)
    cancelled = len(helpers.outbox_rows(engine, status="cancelled"))
    engine.dispose()
    assert cancelled > 0
    assert "dispatched as of 2025-03-01T15:00:00Z to " in late.stdout
    assert f" 0 sent, 0 failed, 0 to retry, {cancelled} cancelled," in late.stdout
    (line,) = [line for line in late.stderr.splitlines() if "cancelled" in line]
    assert line == (
        f"{cancelled} messages cancelled, their purpose gone as of 2025-03-01T15:00:00Z: "
        f"{cancelled} × the session had started before the message could be sent "
        "(use --now to dispatch as of an earlier moment)."
    )

    again = invoke(env, "dispatch", "--now", "2025-03-01T12:00:00-03:00")
    assert " 0 cancelled," in again.stdout and "cancelled" not in again.stderr
