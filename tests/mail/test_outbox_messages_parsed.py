"""Every message the outbox queues reads back, with the standard library, as the one rendered.

Every queued row of a real cohort (invitations, updates, cancellations and reminders, to
Spanish, English and Portuguese speakers) is rendered as the dispatcher renders it, parsed
back with `email.parser.BytesParser(policy=email.policy.default)` and checked against what
it was written from (`tests/mail/test_mime_round_trip.py`) and against the row itself.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mail.mime import message_bytes
from mail.render import ObsoleteMessageError, load_render_sources, outgoing_email, render_row
from mail.shared_renderer import SharedRenderer
from models.outbox import OUTBOX
from tests.mail.test_mime import children
from tests.mail.test_mime_round_trip import check_parsed

METHODS = {
    "invitation": "REQUEST",
    "update": "REQUEST",
    "cancellation": "CANCEL",
    "removal": "CANCEL",  # their copy is withdrawn; the session goes on
}


def test_every_queued_message_reads_back_as_rendered(
    sqlite_engine: sa.Engine, small_workspace: Path, helpers: Any
) -> None:
    helpers.apply(sqlite_engine, small_workspace)
    with sqlite_engine.begin() as connection:  # as if the dispatcher had sent them
        connection.execute(
            sa.update(OUTBOX).where(OUTBOX.c.kind == "invitation").values(status="sent")
        )
    # A member is replaced (removal notices to the old one) and a city changes zone (its
    # sessions move: updates).
    helpers.edit(small_workspace, "i.vera@santiago.example.org", "n.vera@santiago.example.org")
    helpers.edit(small_workspace, "timezone: America/Asuncion", "timezone: America/Sao_Paulo")
    helpers.apply(sqlite_engine, small_workspace)

    with sqlite_engine.connect() as connection:
        rows = list(connection.execute(sa.select(OUTBOX).where(OUTBOX.c.status == "pending")))
        sources = load_render_sources(connection, rows=rows)
    kinds: Counter[str] = Counter()
    renderer = SharedRenderer()  # as the dispatcher renders: one per pass
    for row in rows:
        date = helpers.before_program + dt.timedelta(seconds=row.id)
        try:
            email = outgoing_email(row, sources, date=date, renderer=renderer)
        except ObsoleteMessageError:
            continue
        raw = render_row(row, sources, date=date, renderer=renderer).data
        assert raw == message_bytes(email)
        parsed = check_parsed(raw, email)

        person = sources.people[row.cohort_id, row.email]
        assert [(a.display_name, a.addr_spec) for a in parsed["To"].addresses] == [
            (person.name, row.email)
        ]
        assert parsed["Message-ID"] == row.message_id
        assert parsed["In-Reply-To"] == row.in_reply_to
        if row.kind in METHODS:
            calendar = children(children(parsed)[0])[2]
            assert calendar.get_param("method") == METHODS[row.kind]
        else:
            assert parsed.get_content_type() == "multipart/alternative"
        kinds[row.kind] += 1
    assert {"invitation", "update", "removal", "session_reminder"} <= set(kinds), kinds
