"""What `airfoil up` needs outside itself, checked before anything starts: a database server that
answers (the database is created if missing) and a reachable broker; otherwise an error naming the
setting to fix. No Airflow import."""

from __future__ import annotations

from airfoil.errors import AirfoilError


def ensure_database(url: str, key: str) -> None:
    """Connect to the PostgreSQL database of `url`, creating it if the server is up but it is missing."""
    import sqlalchemy as sa

    target = sa.engine.make_url(url)
    try:
        engine = sa.create_engine(target)
        with engine.connect():
            pass
        engine.dispose()
        return
    except sa.exc.OperationalError as exc:
        if f'database "{target.database}" does not exist' not in str(exc):
            raise AirfoilError(
                f"cannot reach the database of {key}={url}: {exc.orig}; fix {key} or start it"
            ) from None
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def reachable(url: str, key: str) -> None:
    """A TCP connection to the broker's host and port, or a clear error naming the setting."""
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(url)
    host, port = (
        parsed.hostname or "127.0.0.1",
        parsed.port or {"redis": 6379, "amqp": 5672}.get(parsed.scheme, 0),
    )
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        raise AirfoilError(
            f"the broker at {key}={url} is not reachable ({exc}); start it or fix {key}"
        ) from None
