"""The outbox, subscription feeds and operators' session overrides.

Revision ID: 0002
Revises: 0001
Create Date: 2024-11-24

Only new tables: a database at 0001 keeps every row and gains an empty outbox; messages for
what it already holds are queued by the next `apply`, as for any change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

tables = ("session_override", "outbox_cohort", "outbox_message", "feed_source", "feed_token")


def upgrade() -> None:
    op.create_table(
        "session_override",
        sa.Column("session_key", sa.String(), nullable=False),
        sa.Column("cohort_id", sa.String(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_key"),
    )
    op.create_index("ix_session_override_cohort_id", "session_override", ["cohort_id"])
    op.create_table(
        "outbox_cohort",
        sa.Column("cohort_id", sa.String(), nullable=False),
        sa.Column("program_id", sa.String(), nullable=False),
        sa.Column("program_name", sa.JSON(), nullable=False),
        sa.Column("organizer_name", sa.String(), nullable=False),
        sa.Column("organizer_email", sa.String(), nullable=False),
        sa.Column("reply_to", sa.String(), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("cohort_id"),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.String(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("city_id", sa.String(), nullable=True),
        sa.Column("subject_key", sa.String(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=True),
        sa.Column("send_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("in_reply_to", sa.String(), nullable=True),
        sa.Column("starts_at", sa.DateTime(), nullable=True),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("location", sa.String(), nullable=True),
        sa.Column("previous_starts_at", sa.DateTime(), nullable=True),
        sa.Column("previous_ends_at", sa.DateTime(), nullable=True),
        sa.Column("previous_location", sa.String(), nullable=True),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_message_idempotency_key"),
    )
    op.create_index("ix_outbox_message_status_send_at", "outbox_message", ["status", "send_at"])
    op.create_index("ix_outbox_message_subject_email", "outbox_message", ["subject_key", "email"])
    op.create_table(
        "feed_source",
        sa.Column("cohort_id", sa.String(), nullable=False),
        sa.Column("program_id", sa.String(), nullable=False),
        sa.Column("program_name", sa.JSON(), nullable=False),
        sa.Column("refresh_seconds", sa.Integer(), nullable=False),
        sa.Column("cities", sa.JSON(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("cohort_id"),
    )
    op.create_table(
        "feed_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.String(), nullable=False),
        sa.Column("subject_type", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("subject_type IN ('person', 'city')", name="ck_feed_token_subject_type"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),  # unnamed, as `create_all` made it
    )
    op.create_index("ix_feed_token_cohort_id", "feed_token", ["cohort_id"])
    # At most one live token per subject: a partial unique index on both databases.
    op.create_index(
        "uq_feed_token_live_subject",
        "feed_token",
        ["cohort_id", "subject_type", "subject"],
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    for table in reversed(tables):
        op.drop_table(table)
