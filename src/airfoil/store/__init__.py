"""The prediction store: predictions, the block ledger, transient requests.

The names below are imported on first use: a scoring process that opens the plain store
(`store.plain`) never imports SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airfoil.store.kinds import BatchKind, BatchStatus
from airfoil.store.ledger import Batch, StoreError

if TYPE_CHECKING:
    from airfoil.store.db import PredictionStore, close_all, open_store

__all__ = ["Batch", "BatchKind", "BatchStatus", "PredictionStore", "StoreError", "close_all", "open_store"]


def __getattr__(name: str) -> Any:
    if name in ("PredictionStore", "close_all", "open_store"):
        from airfoil.store import db

        return getattr(db, name)
    raise AttributeError(f"module 'airfoil.store' has no attribute {name!r}")
