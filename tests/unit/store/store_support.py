"""Plain helpers of the store's tests."""

from __future__ import annotations

import pyarrow as pa


def chunk(rows: range, prediction: str = "yes", rejected: dict[int, str] | None = None) -> pa.Table:
    """A chunk of predictions in the store's column order, version 3; `rejected`: row -> reason."""
    rejected = rejected or {}
    return pa.table(
        {
            "row_index": pa.array(list(rows), pa.int64()),
            "row_id": pa.array([f"id{i}" for i in rows], pa.string()),
            "model_version": pa.array([3] * len(rows), pa.int64()),
            "prediction": pa.array([None if i in rejected else prediction for i in rows], pa.string()),
            "probabilities": pa.array(
                [None if i in rejected else '{"no":0.25,"yes":0.75}' for i in rows], pa.string()
            ),
            "rejected": pa.array([rejected.get(i) for i in rows], pa.string()),
        }
    )
