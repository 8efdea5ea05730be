"""The prediction store (SQLAlchemy + Alembic): predictions, the block ledger, transient requests."""

from airfoil.store.db import Batch, PredictionStore, StoreError, open_store

__all__ = ["Batch", "PredictionStore", "StoreError", "open_store"]
