"""How letters address a person: title, salutation, family name, and the assistant copied.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

One nullable JSON column on `person`: existing rows keep every value and read as before
(no title: "Hola, Nombre Apellido:"); the next `apply` fills it from the cohort file.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database made by `create_all` is adopted by its tables (accel/migrations.py) and may
    # have the column already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("person")}
    if "addressing" in columns:
        return
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("addressing", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.drop_column("addressing")
