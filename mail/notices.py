"""Deliverable and decision-point notices: read their state, queue what is due into the outbox."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from calendars.deliverable_checks import (
    DecisionPointState,
    DeliverableState,
    Escalation,
    Notice,
    due_decision_notices,
    due_deliverable_notices,
)
from calendars.timeline_types import LoadedInputs
from mail.outbox_writes import CHUNK, mail_domain, new_row
from models.enums import RecordStatus
from models.outbox import OUTBOX
from models.tables import (
    DECISION,
    DELIVERABLE,
    SESSION,
)

CANCELLED = RecordStatus.CANCELLED.value


def _city_people(inputs: LoadedInputs) -> dict[str, dict[str, Any]]:
    """Per city: the team's emails, the mayor's, the coach's."""
    out: dict[str, dict[str, Any]] = {}
    for city in inputs.cohort.cities:
        out[city.id] = {
            "team": tuple(m.email for m in city.team),
            "mayor": city.mayor.email,
            "coach": inputs.cohort.coach(city.coach).email,
        }
    return out


def deliverable_states(
    connection: sa.Connection, *, inputs: LoadedInputs
) -> list[DeliverableState]:
    people = _city_people(inputs)
    states = []
    for row in connection.execute(
        sa.select(DELIVERABLE).where(DELIVERABLE.c.cohort_id == inputs.cohort.id)
    ):
        city = people.get(row.city_id)
        if city is None:
            continue
        states.append(
            DeliverableState(
                key=row.key,
                city_id=row.city_id,
                due_at=row.due_at,
                owners=tuple(row.owners),
                team=city["team"],
                coach=city["coach"],
                mayor=city["mayor"],
                reminders=tuple(dt.timedelta(seconds=s) for s in row.reminders),
                submitted=row.submitted_at is not None,
                cancelled=row.status == CANCELLED,
                days_off=inputs.timeline.days_off.get(city["mayor"]),  # the mayor's: the city's
                coach_days_off=inputs.timeline.days_off.get(city["coach"]),
            )
        )
    return states


def decision_states(connection: sa.Connection, *, inputs: LoadedInputs) -> list[DecisionPointState]:
    people = _city_people(inputs)
    query = (
        sa.select(DECISION, SESSION.c.starts_at, SESSION.c.status.label("session_status"))
        .join(SESSION, SESSION.c.key == DECISION.c.checkin_session)
        .where(DECISION.c.cohort_id == inputs.cohort.id)
    )
    return [
        DecisionPointState(
            row.key,
            row.city_id,
            people[row.city_id]["mayor"],
            row.notify_at,
            row.starts_at,
            cancelled=CANCELLED in (row.status, row.session_status),
        )
        for row in connection.execute(query)
        if row.city_id in people
    ]


def escalation_of(inputs: LoadedInputs) -> Escalation:
    e = inputs.program.escalation
    return Escalation(e.team_overdue, e.coach, e.mayor)


def queue_notices(
    connection: sa.Connection, *, inputs: LoadedInputs, notices: list[Notice], now: dt.datetime
) -> Counter[str]:
    """Insert one outbox row per (notice, recipient); an existing idempotency key is skipped.

    Returns how many were new, by kind.
    """
    domain = mail_domain(inputs.cohort.organizer.email)
    rows = []
    for notice in notices:
        for email in notice.recipients:
            key = f"{notice.idempotency_key}:{email}"
            rows.append(
                new_row(inputs.cohort.id, key, domain, now)
                | {
                    "kind": notice.kind,
                    "email": email,
                    "city_id": notice.city_id,
                    "subject_key": notice.subject_key,
                    "sequence": 0,
                    "send_at": notice.send_at,
                }
            )
    if not rows:
        return Counter()
    dialect = connection.dialect.name
    insert: Any = postgresql.insert(OUTBOX) if dialect == "postgresql" else sqlite.insert(OUTBOX)
    statement = insert.on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(
        OUTBOX.c.kind
    )
    queued: Counter[str] = Counter()
    for chunk in range(0, len(rows), CHUNK):
        queued.update(connection.execute(statement, rows[chunk : chunk + CHUNK]).scalars())
    return queued


def check_deliverables(
    connection: sa.Connection, *, inputs: LoadedInputs, now: dt.datetime
) -> Counter[str]:
    """Queue the deliverable notices due at `now`; returns how many were new, by kind."""
    states = deliverable_states(connection, inputs=inputs)
    notices = due_deliverable_notices(states, escalation_of(inputs), now=now)
    return queue_notices(connection, inputs=inputs, notices=notices, now=now)


def notify_decision_points(
    connection: sa.Connection, *, inputs: LoadedInputs, now: dt.datetime
) -> Counter[str]:
    """Queue each mayor's decision-point email once, when its moment comes."""
    notices = due_decision_notices(decision_states(connection, inputs=inputs), now=now)
    return queue_notices(connection, inputs=inputs, notices=notices, now=now)
