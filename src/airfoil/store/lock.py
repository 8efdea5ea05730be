"""One pipeline's lock, shared by every process that reaches the prediction store.

The gate compares a new version with the champion and then moves the alias; two trainings of one
pipeline finishing at once (two Airflow deployments, or `airfoil run` beside a cluster) must not
interleave those two steps, or both pass against the old champion and the history loses one. On
PostgreSQL the lock is a session advisory lock in the store's database, so it holds across machines
and is released when the holder's connection dies (a killed worker never leaves it taken); on SQLite
it is an flock on a file beside the database (one machine, released when the process dies).
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import sqlalchemy as sa

from airfoil.errors import Unavailable


@contextmanager
def pipeline_lock(store_url: str, name: str, timeout: float = 600.0) -> Iterator[None]:
    """Hold the lock of pipeline `name` for the `with` block; wait at most `timeout` seconds for it."""
    url = sa.make_url(store_url)
    if url.get_backend_name() == "postgresql":
        with _advisory(url, name, timeout):
            yield
        return
    path = Path(url.database or "airfoil.db").with_name(f".{name}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with path.open("a") as handle:  # released when the file closes or the process dies
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _waited(name, timeout, f"{path} is locked") from None
                time.sleep(0.05)
        yield


@contextmanager
def _advisory(url: sa.URL, name: str, timeout: float) -> Iterator[None]:
    key = int.from_bytes(hashlib.sha256(f"airfoil:{name}".encode()).digest()[:8], "big", signed=True)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"SET lock_timeout = '{int(timeout * 1000)}ms'"))
            try:
                conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            except sa.exc.OperationalError as exc:
                raise _waited(name, timeout, str(exc.orig).strip()) from None
            try:
                yield
            finally:
                with suppress(sa.exc.DBAPIError):  # a dead connection has released it already
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        engine.dispose()


def _waited(name: str, timeout: float, detail: str) -> Unavailable:
    return Unavailable(
        f"pipeline {name!r}: waited {timeout:g} s for its lock in the prediction store (another "
        f"training is promoting, or a rollback runs); try again ({detail})"
    )
