"""Schema versions of the prediction store: Alembic migrations under `migrations/`, applied in place.

The version table is `airfoil_alembic_version`, so the store can share a database with Airflow or
MLflow. One migration runs at a time: a file lock beside an SQLite file, an advisory lock on
PostgreSQL.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from airfoil.store.kinds import HEAD, VERSION_TABLE

MIGRATIONS = Path(__file__).parent / "migrations"
__all__ = ["HEAD", "VERSION_TABLE", "revision", "upgrade"]


def upgrade(engine: sa.Engine) -> None:
    """Create or upgrade the schema to the newest revision, unless it is there already."""
    if _at_head(engine):
        return
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with _lock(engine), engine.begin() as conn:
        if _revision(conn) == head:
            return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _at_head(engine: sa.Engine) -> bool:
    """One plain query: is the version table there and at HEAD?"""
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    except sa.exc.ProgrammingError:  # PostgreSQL: no such table yet
        return False
    except sa.exc.OperationalError as exc:  # SQLite: no such table yet; anything else is real
        if "no such table" in str(exc):
            return False
        raise
    return found == [HEAD]


def revision(engine: sa.Engine) -> str | None:
    """The schema revision the database is at (None: no schema yet)."""
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


@contextlib.contextmanager
def _lock(engine: sa.Engine) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        with open(f"{engine.url.database}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    else:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(74201)"))
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(74201)"))
                conn.commit()
