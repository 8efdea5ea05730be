"""Alembic environment: airfoil runs migrations itself (`airfoil.store.migrate.upgrade`) on a connection."""

from __future__ import annotations

from alembic import context

from airfoil.store.migrate import VERSION_TABLE
from airfoil.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,  # the database may be shared with Airflow or MLflow
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
