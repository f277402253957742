"""`accel outbox`, `accel outbox retry` and `accel dispatch` on the embedded setup (.eml files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from accel.database import make_engine
from cli.main import app

runner = CliRunner()
NOW = "2024-05-01T00:00Z"


def invoke(env: dict[str, str | None], *args: str) -> Any:
    return runner.invoke(app, list(args), env=env)


def test_dispatch_writes_eml_files_and_outbox_counts(
    tmp_path: Path, sqlite_url: str, tiny_workspace: Path, helpers: Any
) -> None:
    folder = tmp_path / "outbox"
    env: dict[str, str | None] = {
        "ACCEL_DATABASE_URL": sqlite_url,
        "ACCEL_SMTP_HOST": None,
        "ACCEL_OUTBOX_DIR": str(folder),
    }
    assert invoke(env, "apply", "--cohort", str(tiny_workspace), "--now", NOW).exit_code == 0

    listed = invoke(env, "outbox", "--json")
    assert listed.exit_code == 0, listed.output
    by_kind = {(r["kind"], r["status"]): r["messages"] for r in json.loads(listed.stdout)["kind"]}
    assert by_kind == {("invitation", "pending"): 137, ("session_reminder", "pending"): 150}

    sent = invoke(env, "dispatch", "--now", NOW)
    assert sent.exit_code == 0, sent.output
    assert f"to {folder}/ (.eml files): 137 sent, 0 failed, 0 to retry" in sent.stdout
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 137 and all(f.name.endswith("-invitation.eml") for f in files)
    message = helpers.parse(files[0].read_bytes())
    assert "text/calendar" in {p.get_content_type() for p in message.walk()}

    table = invoke(env, "outbox")
    assert "pending: 150  sending: 0  sent: 137  failed: 0  cancelled: 0" in table.stdout
    assert "santiago" in table.stdout and "session_reminder" in table.stdout


def test_retry_puts_a_failed_message_back(
    tmp_path: Path, sqlite_url: str, tiny_workspace: Path, helpers: Any
) -> None:
    folder = tmp_path / "outbox"
    env: dict[str, str | None] = {
        "ACCEL_DATABASE_URL": sqlite_url,
        "ACCEL_SMTP_HOST": None,
        "ACCEL_OUTBOX_DIR": str(folder),
    }
    assert invoke(env, "apply", "--cohort", str(tiny_workspace), "--now", NOW).exit_code == 0
    engine = make_engine(sqlite_url)
    with engine.begin() as connection:  # as a 550 would leave it
        connection.execute(
            sa.text(
                "UPDATE outbox_message SET status='failed', attempts=1, "
                "last_error='550 5.1.1 User unknown' WHERE id = 1"
            )
        )
    assert invoke(env, "dispatch", "--now", NOW).stdout.count("136 sent") == 1

    refused = invoke(env, "outbox", "retry", "2", "--now", NOW)
    assert refused.exit_code == 1 and "message 2 is sent, not failed" in refused.output
    assert invoke(env, "outbox", "retry", "99999", "--now", NOW).exit_code == 1

    retried = invoke(env, "outbox", "retry", "1", "--now", NOW)
    assert retried.exit_code == 0, retried.output
    (row,) = helpers.outbox_rows(engine, id=1)
    assert (row.status, row.last_error, row.attempts) == ("pending", None, 0)
    assert "1 sent" in invoke(env, "dispatch", "--now", NOW).stdout
    assert (folder / "1-invitation.eml").exists()
    engine.dispose()
