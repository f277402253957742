"""The rehearsal clock: the simulated moment a database reached, so the real clock cannot act on it.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-20

Only a new, empty table: a database upgraded from 0002 holds no recorded rehearsal, whatever
`--now` it was driven with before (nothing in it tells a rehearsal from an idle live run).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

tables = ("rehearsal_clock",)


def upgrade() -> None:
    op.create_table(
        "rehearsal_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reached_at", sa.DateTime(), nullable=False),
        sa.Column("set_by", sa.String(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_rehearsal_clock_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("rehearsal_clock")
