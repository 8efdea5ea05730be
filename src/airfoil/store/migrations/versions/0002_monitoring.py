"""Monitoring: profiles of scored rows (per chunk or API flush) and monitor runs.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "airfoil_profiles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pipeline", sa.String(200), nullable=False),
        sa.Column("profile_key", sa.String(300), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("model_version", sa.Integer),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("batch_id", sa.Integer),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("scored_at", sa.Float, nullable=False),
        sa.Column("profile", sa.Text, nullable=False),
        sa.UniqueConstraint("pipeline", "profile_key", name="uq_airfoil_profiles_key"),
    )
    op.create_index("ix_airfoil_profiles_window", "airfoil_profiles", ["pipeline", "reference", "scored_at"])
    op.create_index("ix_airfoil_profiles_batch", "airfoil_profiles", ["batch_id"])
    op.create_table(
        "airfoil_monitor_runs",
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


def downgrade() -> None:
    op.drop_table("airfoil_monitor_runs")
    op.drop_index("ix_airfoil_profiles_batch", "airfoil_profiles")
    op.drop_index("ix_airfoil_profiles_window", "airfoil_profiles")
    op.drop_table("airfoil_profiles")
