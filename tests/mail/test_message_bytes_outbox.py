"""Every message the outbox queues is written by the fast path exactly as `email` writes it.

The dispatcher renders rows with `mail.mime.message_bytes`; here every queued row of a
real cohort (invitations, updates, cancellations and reminders, to Spanish, English and
Portuguese speakers) is rendered with that function replaced by one that also builds the
message with the standard library's `EmailMessage` and compares the bytes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mail import render as outbox_render
from mail.mime import build_message, message_bytes
from mail.render import ObsoleteMessageError, load_render_sources, render_row
from models.outbox import OUTBOX


def test_every_queued_message_matches_the_standard_library(
    sqlite_engine: sa.Engine,
    small_workspace: Path,
    helpers: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    helpers.apply(sqlite_engine, small_workspace)
    with sqlite_engine.begin() as connection:  # as if the dispatcher had sent them
        connection.execute(
            sa.update(OUTBOX).where(OUTBOX.c.kind == "invitation").values(status="sent")
        )
    # A member is replaced (cancellations to the old one) and a city changes zone (its
    # sessions move: updates).
    helpers.edit(small_workspace, "i.vera@santiago.example.org", "n.vera@santiago.example.org")
    helpers.edit(small_workspace, "timezone: America/Asuncion", "timezone: America/Sao_Paulo")
    helpers.apply(sqlite_engine, small_workspace)

    compared: Counter[str] = Counter()

    def checked(**values: Any) -> bytes:
        fast = message_bytes(**values)
        assert fast == build_message(**values).as_bytes(), values["subject"]
        compared[values["subject"].split(":")[0]] += 1
        return fast

    monkeypatch.setattr(outbox_render, "message_bytes", checked)
    with sqlite_engine.connect() as connection:
        rows = list(connection.execute(sa.select(OUTBOX).where(OUTBOX.c.status == "pending")))
        sources = load_render_sources(connection, rows=rows)
    kinds: Counter[str] = Counter()
    date = helpers.before_program
    for row in rows:
        try:
            render_row(row, sources, date=date + dt.timedelta(seconds=row.id))
        except ObsoleteMessageError:
            continue
        kinds[row.kind] += 1
    assert {"invitation", "update", "cancellation", "session_reminder"} <= set(kinds), kinds
    assert sum(compared.values()) == sum(kinds.values())
