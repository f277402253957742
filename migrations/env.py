"""Alembic environment: the engine's tables (`SQLModel.metadata`) on the configured database.

Run by `accel db upgrade` and `create_schema()` (both pass an open connection in
`config.attributes["connection"]`, already holding the migration lock inside a transaction),
or by the plain tool, `alembic -c migrations/alembic.ini upgrade head`, which reads the URL
from ACCEL_DATABASE_URL (or `.env`), like every `accel` command, and takes the same lock.
"""

from __future__ import annotations

from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context
from sqlmodel import SQLModel

import accel.database  # registers every table on SQLModel.metadata; make_engine
from accel.migrations import migration_lock
from accel.settings import Settings

config = context.config
target_metadata = SQLModel.metadata

if config.cmd_opts is not None and config.config_file_name is not None:
    # The `alembic` command line: its log lines ("Running upgrade ..."). Programmatic callers
    # (accel, tests, Prefect workers) keep their own logging untouched.
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url.get_secret_value()


def configure(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite alters tables by copying them: later revisions' ALTERs work there too.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """`--sql`: print the SQL instead of running it."""
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given: sa.Connection | None = config.attributes.get("connection")
    if given is not None:
        # The caller owns the connection, its transaction and the lock.
        configure(given)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = accel.database.make_engine(database_url())
    try:
        with engine.connect() as connection, connection.begin():
            migration_lock(connection)
            configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
