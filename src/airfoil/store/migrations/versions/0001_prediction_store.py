"""The prediction store: batches (block ledger, CLI files, transient requests) and predictions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "airfoil_batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pipeline", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("batch_key", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("fingerprint", sa.String(64)),
        sa.Column("model_version", sa.Integer),
        sa.Column("rows_total", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("rows_scored", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("rows_rejected", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("chunks_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("dag_id", sa.String(250)),
        sa.Column("dag_run_id", sa.String(250)),
        sa.Column("lineage", sa.JSON),
        sa.Column("classes", sa.JSON),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("pipeline", "kind", "batch_key", name="uq_airfoil_batches_key"),
    )
    op.create_index("ix_airfoil_batches_key", "airfoil_batches", ["batch_key"])
    op.create_table(
        "airfoil_predictions",
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("airfoil_batches.id"), primary_key=True),
        sa.Column("row_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("row_id", sa.Text),
        sa.Column("model_version", sa.Integer),
        sa.Column("prediction", sa.Text),
        sa.Column("probabilities", sa.Text),
        sa.Column("rejected", sa.Text),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("airfoil_predictions")
    op.drop_index("ix_airfoil_batches_key", "airfoil_batches")
    op.drop_table("airfoil_batches")
