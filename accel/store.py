"""The stored state of a cohort, and a reconcile plan written to every table in one transaction."""

from __future__ import annotations

import sqlalchemy as sa

from accel.deliverables import (
    stored_decision_points,
    stored_deliverables,
    write_decision_point_changes,
    write_deliverable_changes,
)
from accel.people_queries import stored_people, write_people_changes
from accel.session_queries import stored_sessions, write_invitation_changes, write_session_changes
from calendars.reconcile import Action, Plan, StoredState
from calendars.timeline_types import Timeline


def load_state(connection: sa.Connection, *, cohort_id: str) -> StoredState:
    """Everything reconcile compares against, read with a few bulk queries."""
    return StoredState(
        sessions=stored_sessions(connection, cohort_id=cohort_id),
        deliverables=stored_deliverables(connection, cohort_id=cohort_id),
        decision_points=stored_decision_points(connection, cohort_id=cohort_id),
        people=stored_people(connection, cohort_id=cohort_id),
    )


def apply_plan(connection: sa.Connection, *, timeline: Timeline, plan: Plan) -> None:
    """Write `plan`; the caller owns the transaction (so a failure leaves nothing behind).

    People and sessions first: invitations refer to both.
    """
    cohort_id, now = timeline.cohort_id, plan.now
    write_people_changes(
        connection, cohort_id=cohort_id, people=timeline.people, changes=plan.people, now=now
    )
    write_session_changes(
        connection,
        cohort_id=cohort_id,
        sessions={s.key: s for s in timeline.sessions},
        changes=plan.sessions,
        now=now,
    )
    write_invitation_changes(
        connection,
        cohort_id=cohort_id,
        changes=plan.invitations,
        new_sessions={c.key for c in plan.sessions if c.action is Action.ADDED},
        now=now,
    )
    write_deliverable_changes(
        connection,
        cohort_id=cohort_id,
        deliverables=timeline.deliverables,
        changes=plan.deliverables,
        now=now,
    )
    write_decision_point_changes(
        connection,
        cohort_id=cohort_id,
        decision_points=timeline.decision_points,
        changes=plan.decision_points,
        now=now,
    )
