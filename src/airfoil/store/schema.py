"""The prediction store's tables (SQLAlchemy Core). Alembic migrations under `migrations/` create them.

`airfoil_batches` is one row per scored unit: an input block of a batch run (the ledger of
processed blocks), a file scored from the CLI, or a transient request. `airfoil_predictions` is
one row per input row, keyed by (batch, row_index): the upsert key that makes re-runs and retries leave
exactly one prediction per row. `row_index` is the row's position in its block (blocks are immutable:
their id holds the content fingerprint); `row_id` keeps the spec's `deploy.batch.key` column.
"""

from __future__ import annotations

import sqlalchemy as sa

from airfoil.store.kinds import (  # noqa: F401  (the names every user of the schema takes from here)
    PREDICTION_COLUMNS,
    PROFILE_COLUMNS,
    BatchKind,
    BatchStatus,
    ProfileSource,
)

metadata = sa.MetaData()

batches = sa.Table(
    "airfoil_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pipeline", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # BatchKind
    sa.Column("batch_key", sa.String(300), nullable=False),  # block id or request id
    sa.Column("status", sa.String(16), nullable=False),  # BatchStatus
    sa.Column("source", sa.Text),  # file / URL / query the rows came from
    sa.Column("fingerprint", sa.String(64)),  # sha256 of the block's bytes
    sa.Column("model_version", sa.Integer),  # registered version that scored it (null: transient)
    sa.Column("rows_total", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_scored", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_rejected", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("chunks_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("dag_id", sa.String(250)),
    sa.Column("dag_run_id", sa.String(250)),
    sa.Column("lineage", sa.JSON),  # transient: params, holdout metrics, dataset fingerprint, ...
    sa.Column("classes", sa.JSON),  # class labels, to read predictions back in their type
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("pipeline", "kind", "batch_key", name="uq_airfoil_batches_key"),
)
sa.Index("ix_airfoil_batches_key", batches.c.batch_key)

predictions = sa.Table(
    "airfoil_predictions",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("airfoil_batches.id"), primary_key=True),
    sa.Column("row_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("row_id", sa.Text),
    sa.Column("model_version", sa.Integer),
    sa.Column("prediction", sa.Text),  # the label (classification) or the value (regression), as text
    sa.Column("probabilities", sa.Text),  # JSON object {class: probability}
    sa.Column("rejected", sa.Text),  # why the row was not scored (then prediction is null)
    sqlite_with_rowid=False,
)

# One profile of scored rows (monitor.profile.Profile as JSON) per stored chunk or API flush.
# `reference` is the sha256 of the reference whose bins it counts in: only profiles of one reference
# merge. `scored_at` is Unix seconds. `profile_key` makes writes idempotent: "<batch id>:<first row>"
# for a chunk (a retried chunk replaces its profile), "api:<worker>:<n>" for an API flush.
profiles = sa.Table(
    "airfoil_profiles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pipeline", sa.String(200), nullable=False),
    sa.Column("profile_key", sa.String(300), nullable=False),
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("model_version", sa.Integer),
    sa.Column("source", sa.String(16), nullable=False),  # ProfileSource
    sa.Column("batch_id", sa.Integer),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("scored_at", sa.Float, nullable=False),
    sa.Column("profile", sa.Text, nullable=False),
    sa.UniqueConstraint("pipeline", "profile_key", name="uq_airfoil_profiles_key"),
)
sa.Index("ix_airfoil_profiles_window", profiles.c.pipeline, profiles.c.reference, profiles.c.scored_at)
sa.Index("ix_airfoil_profiles_batch", profiles.c.batch_id)

# One row per monitor run (`run_key`: the Airflow DAG run), its verdict as JSON.
monitor_runs = sa.Table(
    "airfoil_monitor_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pipeline", sa.String(200), nullable=False),
    sa.Column("run_key", sa.String(300), nullable=False),
    sa.Column("model_version", sa.Integer),
    sa.Column("window_start", sa.Float),
    sa.Column("window_end", sa.Float, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("alert", sa.Boolean, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("pipeline", "run_key", name="uq_airfoil_monitor_runs_key"),
)
