"""The schema's versions: Alembic revisions in `migrations/`, applied under a lock.

`upgrade_schema(engine)` is what `create_schema()` and `accel db upgrade` run. A database
already at the newest revision costs one query (no lock, no script loading beyond the first
call in a process). Otherwise the upgrade runs in one transaction holding a lock, so that any
number of processes starting at once (Prefect workers, dispatchers, the web app) upgrade it
once and the others wait, then find nothing to do:

- PostgreSQL: `pg_advisory_xact_lock`, released by the commit; DDL is transactional there, so
  a failed upgrade leaves the database at its previous revision.
- SQLite: `BEGIN IMMEDIATE`, the database's single write lock (the others wait up to the
  connection's busy timeout); SQLite's DDL is transactional too.

A database whose tables were made by `create_all` before there were migrations (it has tables
but no `alembic_version`) is adopted: stamped at the newest revision whose tables all exist,
then upgraded from there.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from accel.shipped import shipped_path

# The `migrations` package: installed with the engine (env.py, alembic.ini, versions/).
MIGRATIONS = shipped_path("migrations")
# Any fixed 64-bit number, the same in every process: "accel-schema" in ASCII.
LOCK_KEY = 0x616363656C2D7363
HEAD = "head"


class SchemaError(RuntimeError):
    """The database holds tables this code cannot place at any revision."""


@dataclass(frozen=True)
class UpgradeResult:
    before: str | None  # the revision found (None: an empty or unversioned database)
    after: str | None
    adopted: str | None = None  # stamped at this revision first (tables made by create_all)

    @property
    def changed(self) -> bool:
        return self.before != self.after or self.adopted is not None


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """The configuration of `migrations/`; with `connection`, env.py migrates through it."""
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script_directory().get_current_head()
    if head is None:  # pragma: no cover - the shipped revisions are never empty
        raise SchemaError(f"no revisions in {MIGRATIONS}")
    return head


def current_revision(connection: sa.Connection) -> str | None:
    """The revision stamped in `alembic_version`; None if there is none (or no such table)."""
    return MigrationContext.configure(connection).get_current_revision()


def migration_lock(connection: sa.Connection) -> None:
    """Take the schema lock for the rest of `connection`'s transaction (already begun)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # pysqlite begins transactions lazily (before the first write); take the write lock
        # now, so that reading the version and creating the tables are one atomic step.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def _locked(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect() as connection, connection.begin():
        migration_lock(connection)
        yield connection


def upgrade_schema(engine: sa.Engine, revision: str = HEAD) -> UpgradeResult:
    """Bring the database to `revision` (default: the newest); a no-op when it is there."""
    target = head_revision() if revision == HEAD else revision
    with engine.connect() as connection:
        found = current_revision(connection)
    if found == target:
        return UpgradeResult(found, found)
    with _locked(engine) as connection:
        before = current_revision(connection)  # another process may have upgraded meanwhile
        adopted = None
        if before is None:
            adopted = _adopt_unversioned(connection)
        if (adopted or before) != target:
            command.upgrade(alembic_config(connection), revision)
        after = current_revision(connection)
    return UpgradeResult(before, after, adopted)


def _adopt_unversioned(connection: sa.Connection) -> str | None:
    """Stamp a database made by `create_all` (no version, some tables) at its revision."""
    existing = set(sa.inspect(connection).get_table_names())
    stamp: str | None = None
    claimed: set[str] = set()  # the tables of the revisions up to `stamp`
    ours: set[str] = set()
    complete = True
    for script in reversed(list(script_directory().walk_revisions())):  # oldest first
        tables = set(getattr(script.module, "tables", ()))
        ours |= tables
        if complete and tables and tables <= existing:
            stamp, claimed = script.revision, claimed | tables
        else:
            complete = False
    stray = (existing & ours) - claimed
    if stray:
        raise SchemaError(
            f"the database has tables of the engine ({', '.join(sorted(stray))}) but no "
            "alembic_version, and they match no revision: check it before migrating"
        )
    if stamp is not None:
        command.stamp(alembic_config(connection), stamp)
    return stamp
