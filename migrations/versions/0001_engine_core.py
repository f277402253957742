"""The engine's core: people, cities, sessions, invitations, deliverables, decision points.

Revision ID: 0001
Revises:
Create Date: 2024-11-24

The schema as `create_all` made it before the outbox, feeds and operator overrides. Types are
written out here (String, DateTime, JSON), never imported from `models/`: a revision must keep
creating the same tables after the models move on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables this revision creates: a database made by `create_all` before migrations existed
# is recognised by them and stamped (see accel/migrations.py).
tables = ("city", "decision_point", "deliverable", "person", "session", "invitation")


def upgrade() -> None:
    op.create_table(
        "city",
        sa.Column("cohort_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("coach_email", sa.String(), nullable=False),
        sa.Column("mayor_email", sa.String(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("cohort_id", "id"),
    )
    op.create_table(
        "decision_point",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("cohort_id", sa.String(), nullable=False),
        sa.Column("city_id", sa.String(), nullable=False),
        sa.Column("decision_point", sa.String(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("decide", sa.JSON(), nullable=False),
        sa.Column("checkin_session", sa.String(), nullable=False),
        sa.Column("notify_at", sa.DateTime(), nullable=False),
        sa.Column("deliverables", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_decision_point_city_id", "decision_point", ["city_id"])
    op.create_index("ix_decision_point_cohort_id", "decision_point", ["cohort_id"])
    op.create_table(
        "deliverable",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("cohort_id", sa.String(), nullable=False),
        sa.Column("city_id", sa.String(), nullable=False),
        sa.Column("deliverable", sa.String(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("owners", sa.JSON(), nullable=False),
        sa.Column("reminders", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("link", sa.String(), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_deliverable_city_id", "deliverable", ["city_id"])
    op.create_index("ix_deliverable_cohort_id", "deliverable", ["cohort_id"])
    op.create_table(
        "person",
        sa.Column("cohort_id", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("city_id", sa.String(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("cohort_id", "email"),
    )
    op.create_index("ix_person_city_id", "person", ["city_id"])
    op.create_table(
        "session",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("cohort_id", sa.String(), nullable=False),
        sa.Column("series", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("city_id", sa.String(), nullable=True),
        sa.Column("group_id", sa.String(), nullable=True),
        sa.Column("decision_point", sa.String(), nullable=True),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("location", sa.String(), nullable=False),
        sa.Column("meeting_url", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=True),
        sa.Column("reminders", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_session_city_id", "session", ["city_id"])
    op.create_index("ix_session_cohort_id", "session", ["cohort_id"])
    op.create_index("ix_session_starts_at", "session", ["starts_at"])
    op.create_table(
        "invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.String(), nullable=False),
        sa.Column("session_key", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["session_key"], ["session.key"]),
        sa.PrimaryKeyConstraint("id"),
        # Unnamed, as `create_all` made it: databases adopted from before migrations match.
        sa.UniqueConstraint("session_key", "email"),
    )
    op.create_index("ix_invitation_cohort_id", "invitation", ["cohort_id"])
    op.create_index("ix_invitation_email", "invitation", ["email"])
    op.create_index("ix_invitation_session_key", "invitation", ["session_key"])


def downgrade() -> None:
    for table in reversed(tables):
        op.drop_table(table)
