"""Flows: operations move or cancel a session (one city's, or a pattern across the cohort)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger

from accel.rehearsal import RehearsalClockError
from accel.settings import default_cohort_file
from flows.refusals import refused_run
from tasks.cohort_tasks import override_task
from tasks.flow_clock import flow_moment
from tasks.session_changes import SessionChangeResult


def _summary(result: SessionChangeResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "sessions": [c.key for c in plan.sessions],
        "updates": sum(1 for i in plan.invitations if i.action == "update"),
        "invitations": sum(1 for i in plan.invitations if i.action == "invite"),
        "cancellations": sum(1 for i in plan.invitations if i.action == "cancel"),
        "removals": sum(1 for i in plan.invitations if i.action == "remove"),
        "messages": result.messages.as_dict(),
    }


@flow(name="reschedule_session")
def reschedule_session(
    session: str,
    starts_at: dt.datetime | None = None,
    shift_minutes: int | None = None,
    cohort_file: str | None = None,
    now: dt.datetime | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Move `session` (a key, or a glob like `cda-2024/coaching/*/05`) to `starts_at` or by
    `shift_minutes`; its attendees get updates and their reminders are re-timed."""
    if (starts_at is None) == (shift_minutes is None):
        raise ValueError("give exactly one of starts_at or shift_minutes")
    try:
        moment = flow_moment(now, flow="reschedule_session")
    except RehearsalClockError as refusal:
        return refused_run(str(refusal))
    cohort = str(cohort_file or default_cohort_file())
    result = override_task(cohort, moment, session, starts_at, shift_minutes, False, reason)
    summary = _summary(result)
    get_run_logger().info("reschedule_session %s: %s", session, summary)
    return summary


@flow(name="cancel_session")
def cancel_session(
    session: str,
    cohort_file: str | None = None,
    now: dt.datetime | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Cancel `session` (a key or a glob); its attendees get cancellations, reminders stop."""
    try:
        moment = flow_moment(now, flow="cancel_session")
    except RehearsalClockError as refusal:
        return refused_run(str(refusal))
    cohort = str(cohort_file or default_cohort_file())
    result = override_task(cohort, moment, session, None, None, True, reason)
    summary = _summary(result)
    get_run_logger().info("cancel_session %s: %s", session, summary)
    return summary
