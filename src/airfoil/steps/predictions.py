"""The prediction store's row shape: predictions of good rows and reasons of rejected ones, as Arrow
columns built with kernels (no Python per row), and the way back to typed values for readers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from airfoil.artifacts.arrow_start import call, cast

if TYPE_CHECKING:
    import pyarrow as pa

    from airfoil.steps.checks import Checked


def prediction_table(
    checked: Checked,
    labels: np.ndarray,
    proba: np.ndarray | None,
    *,
    classes: list[Any],
    row_index: np.ndarray,
    row_id: Any = None,
    model_version: int | None = None,
) -> pa.Table:
    """The store's columns for one chunk: predictions of the good rows, reasons for the rejected ones.

    `labels` / `proba` hold the good rows only; rejected rows get null predictions.
    """
    import pyarrow as pa

    n = len(checked.ok)
    prediction = _text(pa.array(labels))
    probabilities = (
        probabilities_json(proba, classes) if proba is not None else pa.nulls(len(labels), pa.string())
    )
    if checked.rejected:
        # Spread the good rows' values back over all n rows; rejected rows point at a trailing null.
        take = np.full(n, len(labels), dtype=np.int64)
        take[checked.ok] = np.arange(len(labels))
        indices = pa.array(take)
        prediction = call("take", pa.concat_arrays([prediction, pa.nulls(1, pa.string())]), indices)
        probabilities = call("take", pa.concat_arrays([probabilities, pa.nulls(1, pa.string())]), indices)
    rejected = pa.array(checked.reasons, pa.string()) if checked.rejected else pa.nulls(n, pa.string())
    return pa.table(
        {
            "row_index": pa.array(row_index, pa.int64()),
            "row_id": pa.nulls(n, pa.string()) if row_id is None else _text(row_id),
            "model_version": pa.nulls(n, pa.int64())
            if model_version is None
            else pa.array(np.full(n, model_version, dtype=np.int64)),
            "prediction": prediction,
            "probabilities": probabilities,
            "rejected": rejected,
        }
    )


def _text(arr: Any) -> Any:
    import pyarrow as pa

    if not isinstance(arr, pa.Array | pa.ChunkedArray):
        arr = pa.array(arr)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if pa.types.is_string(arr.type) else cast(arr, pa.string())


def label_text(label: Any) -> str:
    """How a class label is written in the `prediction` column (Arrow's text form, as in the store)."""
    return str(_text([label])[0].as_py())


def probabilities_json(proba: np.ndarray, classes: list[Any]) -> pa.Array:
    """One JSON object {class: probability} per row, built with Arrow kernels (no Python per row).

    Probabilities are written with float32 precision (7 significant digits).
    """
    import pyarrow as pa

    parts: list[Any] = []
    # float32 text (7 significant digits): half the bytes and half the formatting time of float64
    proba = np.asarray(proba, dtype=np.float32)
    for j, c in enumerate(classes):
        parts.append(("{" if j == 0 else ",") + json.dumps(label_text(c)) + ":")
        parts.append(cast(pa.array(proba[:, j]), pa.string()))
    parts.append("}")
    return call("binary_join_element_wise", *parts, "")


def decode(rows: list[dict[str, Any]], classes: list[Any] | None) -> list[dict[str, Any]]:
    """Stored rows back to values: labels in the model's class type, probabilities as dicts."""
    by_text = {label_text(c): c for c in classes or []}
    out = []
    for r in rows:
        value: Any = r["prediction"]
        if value is not None:
            value = by_text.get(value, value) if classes else float(value)
        out.append(
            {
                "row": r["row_index"],
                **({"id": r["row_id"]} if r.get("row_id") is not None else {}),
                "prediction": value,
                **({"probabilities": json.loads(r["probabilities"])} if r.get("probabilities") else {}),
                **({"rejected": r["rejected"]} if r.get("rejected") else {}),
            }
        )
    return out
