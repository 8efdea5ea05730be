"""The prediction store (SQLAlchemy + Alembic): predictions, the block ledger, transient requests."""

from airfoil.store.db import Batch, PredictionStore, StoreError, close_all, open_store
from airfoil.store.schema import BatchKind, BatchStatus

__all__ = ["Batch", "BatchKind", "BatchStatus", "PredictionStore", "StoreError", "close_all", "open_store"]
