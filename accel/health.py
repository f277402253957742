"""Whether the database answers: the one query behind the web app's `/healthz`."""

from __future__ import annotations

import sqlalchemy as sa


def ping_database(connection: sa.Connection) -> None:
    """A trivial round trip; raises whatever the driver raises when the database is down."""
    connection.execute(sa.text("SELECT 1"))
