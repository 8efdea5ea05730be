"""Turn request bodies (Open Inference Protocol v2, MLflow scoring formats) into checked columns.

Every problem is a `BadInput` naming the field, answered with 400 (413 for too many rows); nothing
a client sends can make the server answer 500. Number columns are checked with numpy, not per value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from airfoil.serving.loaded import Served


class BadInput(Exception):
    """A request the model cannot take; `status` is the HTTP code."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


OIP_TYPES = {"number": "FP64", "string": "BYTES"}
_NUMERIC_OIP = {
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
}


def from_oip(body: Any, served: Served, max_rows: int) -> dict[str, Any]:
    """OIP v2 infer request: one input per column ([n] or [n, 1]) or one [n, k] input in column order."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise BadInput("the body must be a JSON object with a non-empty 'inputs' list")
    names = served.column_names
    tensors: dict[str, list[Any]] = {}
    for i, t in enumerate(body["inputs"]):
        if not isinstance(t, dict):
            raise BadInput(f"inputs[{i}] must be an object with name, shape, datatype and data")
        name, shape, datatype, data = t.get("name"), t.get("shape"), t.get("datatype"), t.get("data")
        if not isinstance(name, str):
            raise BadInput(f"inputs[{i}].name must be a string")
        if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise BadInput(f"input {name!r}: shape must be a list of non-negative integers")
        if not isinstance(datatype, str):
            raise BadInput(f"input {name!r}: datatype must be a string such as FP64 or BYTES")
        flat = _flatten(data, name)
        if len(flat) != math.prod(shape):
            raise BadInput(
                f"input {name!r}: shape {shape} holds {math.prod(shape)} values but data has {len(flat)}"
            )
        if name in names:
            if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
                raise BadInput(f"input {name!r}: a column input has shape [n] or [n, 1], not {shape}")
            kind = next(c["type"] for c in served.columns if c["name"] == name)
            if kind == "number" and datatype not in _NUMERIC_OIP:
                raise BadInput(f"input {name!r}: datatype {datatype} but the column holds numbers (use FP64)")
            if kind == "string" and datatype != "BYTES":
                raise BadInput(f"input {name!r}: datatype {datatype} but the column holds text (use BYTES)")
            tensors[name] = flat
        elif len(body["inputs"]) == 1 and len(shape) == 2 and shape[1] == len(names):
            kinds = {c["type"] for c in served.columns}
            if kinds != ({"string"} if datatype == "BYTES" else {"number"}) or (
                datatype != "BYTES" and datatype not in _NUMERIC_OIP
            ):
                raise BadInput(
                    f"input {name!r}: a single [n, {len(names)}] input of datatype {datatype} does not fit "
                    f"this model's columns ({sorted(kinds)}); send one input per column"
                )
            width = len(names)
            tensors = {c: flat[j::width] for j, c in enumerate(names)}
        else:
            raise BadInput(
                f"unknown input {name!r}: send one input per column {names}, or one [n, {len(names)}] input"
            )
    return check(tensors, served, max_rows)


def _flatten(data: Any, name: str) -> list[Any]:
    if not isinstance(data, list):
        raise BadInput(f"input {name!r}: data must be a list")
    if data and isinstance(data[0], list):
        out: list[Any] = []
        stack = [data]
        while stack:  # row-major flatten of nested lists, without recursion limits
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            else:
                out.append(item)
        return out
    return data


def from_mlflow(body: Any, served: Served, max_rows: int) -> dict[str, Any]:
    """MLflow scoring server formats: dataframe_split, dataframe_records, instances, inputs."""
    if not isinstance(body, dict):
        raise BadInput(
            "the body must be a JSON object with one of dataframe_split, dataframe_records, "
            "instances or inputs"
        )
    keys = [k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in body]
    if len(keys) != 1:
        raise BadInput("give exactly one of dataframe_split, dataframe_records, instances or inputs")
    key, payload = keys[0], body[keys[0]]
    if key == "dataframe_split":
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise BadInput("dataframe_split needs 'columns' and 'data' (a list of rows)")
        columns = payload.get("columns") or served.column_names
        return check(_rows_to_columns(payload["data"], columns, key), served, max_rows)
    if isinstance(payload, dict):  # {"column": [values...]}
        return check(
            {str(k): v if isinstance(v, list) else [v] for k, v in payload.items()}, served, max_rows
        )
    if not isinstance(payload, list):
        raise BadInput(f"{key} must be a list of records (or of rows)")
    if payload and all(isinstance(r, dict) for r in payload):
        present = {k for r in payload for k in r}
        return check({c: [r.get(c) for r in payload] for c in present}, served, max_rows)
    return check(_rows_to_columns(payload, served.column_names, key), served, max_rows)


def _rows_to_columns(rows: list[Any], columns: Any, key: str) -> dict[str, list[Any]]:
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise BadInput(f"{key}: columns must be a list of column names")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            raise BadInput(f"{key}: row {i} must be a list of {len(columns)} values ({columns})")
    if not rows:
        return {c: [] for c in columns}
    # Every row has len(columns) values (checked above): transpose at C speed.
    return {c: list(values) for c, values in zip(columns, zip(*rows, strict=True), strict=True)}


def check(values: dict[str, Any], served: Served, max_rows: int) -> dict[str, Any]:
    """Exactly the model's columns, equal lengths within limits, values of the right type."""
    names = served.column_names
    missing = [c for c in names if c not in values]
    if missing:
        raise BadInput(f"missing column(s) {missing}; the model takes {names}")
    known = set(names)
    extra = [c for c in values if c not in known]
    if extra:
        raise BadInput(f"unknown column(s) {extra}; the model takes {names}")
    lengths = {len(v) if isinstance(v, list) else -1 for v in values.values()}
    if -1 in lengths:
        raise BadInput("every column must be a list of values")
    if len(lengths) != 1:
        raise BadInput(
            f"columns have different lengths {sorted(lengths)}; every column needs one value per row"
        )
    n = lengths.pop()
    if n == 0:
        raise BadInput("the batch is empty: send at least one row")
    if n > max_rows:
        raise BadInput(f"{n} rows is more than the limit of {max_rows} per request; split the batch", 413)
    out: dict[str, Any] = {}
    for col in served.columns:
        name, raw = col["name"], values[col["name"]]
        out[name] = (
            _numbers(name, raw, col["nullable"]) if col["type"] == "number" else _strings(name, raw, col)
        )
    return out


def _numbers(name: str, raw: list[Any], nullable: bool) -> Any:
    try:
        arr = np.asarray(raw)
    except ValueError:  # ragged nested lists
        arr = np.asarray(raw, dtype=object)
    # text, booleans, nulls, nested lists: look closer (numpy turns [True, 2.5] into [1.0, 2.5])
    if arr.dtype.kind not in "fiu" or arr.ndim != 1 or bool in set(map(type, raw)):
        bad = next(
            (v for v in raw if v is not None and (isinstance(v, bool) or not isinstance(v, int | float))),
            None,
        )
        if bad is not None:
            raise BadInput(f"column {name!r}: expected a number, got {bad!r}")
        arr = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
    arr = arr.astype(np.float64, copy=False)
    if np.isfinite(arr).all():  # the usual case: one check, not two
        return arr
    if not nullable and np.isnan(arr).any():
        raise BadInput(
            f"column {name!r}: missing value (null/NaN) in row {int(np.isnan(arr).argmax())}, "
            "but this column does not allow them"
        )
    if np.isinf(arr).any():
        raise BadInput(f"column {name!r}: infinite value in row {int(np.isinf(arr).argmax())}")
    return arr


def _strings(name: str, raw: list[Any], col: dict[str, Any]) -> list[Any]:
    for i, v in enumerate(raw):
        if v is None:
            if not col["nullable"]:
                raise BadInput(
                    f"column {name!r}: missing value in row {i}, but this column does not allow them"
                )
        elif not isinstance(v, str):
            raise BadInput(f"column {name!r}: expected text, got {v!r} in row {i}")
    return raw
