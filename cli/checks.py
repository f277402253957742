"""`accel check-deliverables` and `accel notify-decisions`: the daily flows' queuing, from cron.

Each does what its Prefect task does (tasks/outbox_tasks.py): read the cohort, queue what is due
at --now in one transaction, idempotently. `accel dispatch` sends what they queue.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
import typer

from accel.feed_store import cohort_applied
from accel.settings import Settings
from calendars.timeline_types import LoadedInputs
from cli.context import settings_of
from cli.options import (
    CohortOption,
    JsonOption,
    NowOption,
    engine_for,
    exit_nothing_stored,
    load_or_exit,
    out,
    parse_now,
    record_given_now,
    step,
)
from mail.notices import check_deliverables, notify_decision_points


class QueueNotices(Protocol):
    """`check_deliverables` or `notify_decision_points` from mail/notices.py."""

    def __call__(
        self, connection: sa.Connection, *, inputs: LoadedInputs, now: dt.datetime
    ) -> Counter[str]: ...


def _queue(
    queue: QueueNotices,
    label: str,
    settings: Settings,
    cohort: Path | None,
    now: str | None,
    *,
    as_json: bool,
) -> None:
    """Queue with `queue` in one transaction and print the counts by kind."""
    moment = parse_now(now)
    inputs = load_or_exit(cohort)
    with engine_for(settings).begin() as connection, step(label):
        applied = cohort_applied(connection, cohort_id=inputs.cohort.id)
        queued = dict(queue(connection, inputs=inputs, now=moment)) if applied else None
        if applied:
            record_given_now(connection, now, moment)
    if queued is None:
        exit_nothing_stored(inputs.cohort.id)
    if as_json:
        sys.stdout.write(json.dumps(dict(sorted(queued.items())), indent=2) + "\n")
        return
    at = f"{moment:%Y-%m-%d %H:%M} UTC"
    if not queued:
        out.print(f"{inputs.cohort.id}: nothing new to queue at {at}.", markup=False)
        return
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(queued.items()))
    out.print(
        f"{inputs.cohort.id}: queued at {at}: {counts}; `accel dispatch` sends them.",
        markup=False,
    )


def check_deliverables_command(
    ctx: typer.Context,
    cohort: CohortOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queue the deliverable reminders, overdue notices and escalations due at --now.

    As the daily check_deliverables flow: each notice once; `accel dispatch` sends them.
    """
    label = "queuing due deliverable notices"
    _queue(check_deliverables, label, settings_of(ctx), cohort, now, as_json=as_json)


def notify_decisions_command(
    ctx: typer.Context,
    cohort: CohortOption = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queue each mayor's decision-point email whose moment has come at --now.

    As the daily notify_decision_points flow: each email once; `accel dispatch` sends them.
    """
    label = "queuing decision-point emails"
    _queue(notify_decision_points, label, settings_of(ctx), cohort, now, as_json=as_json)
