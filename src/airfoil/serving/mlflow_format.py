"""MLflow's scoring formats: one parser for `/v1/models/{name}/invocations` and transient requests.

A body holds exactly one of `dataframe_split` ({"columns": [...], "data": [[...], ...]}),
`dataframe_records` ([{column: value}, ...]), `instances` or `inputs` (records, rows, or
{column: [values]}). The parser turns it into {column: [values]}; what the values must be is the
caller's rule (a model's schema, or a transient request's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airfoil.artifacts.features import Features
from airfoil.serving.columns import check
from airfoil.serving.http import BadInput
from airfoil.steps import checks

if TYPE_CHECKING:
    from airfoil.registry.loaded import LoadedModel

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_NAMED = "dataframe_split, dataframe_records, instances or inputs"

_RECORDS = {"type": "array", "items": {"type": "object"}}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Exactly one of dataframe_split, dataframe_records, instances, inputs.",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}},
            },
        },
        "dataframe_records": _RECORDS,
        "instances": {"type": "array"},
        "inputs": {"oneOf": [{"type": "object"}, {"type": "array"}]},
    },
}


def parse(
    body: Any,
    *,
    columns: list[str] | None = None,
    single_values: bool = False,
    allowed: frozenset[str] | None = None,
) -> dict[str, list[Any]]:
    """{column: [values]} from a scoring body.

    `columns`: the model's column names, for rows sent as lists (`instances: [[...]]`,
    `dataframe_split` without its columns); without them, rows must be records.
    `single_values`: a column given as one value is a one-row column (MLflow's shorthand).
    `allowed`: other top-level keys the body may have (None: any, as MLflow's server ignores them).
    """
    if not isinstance(body, dict):
        raise BadInput(f"the body must be a JSON object with one of {_NAMED}")
    if allowed is not None:
        unknown = sorted(set(body) - {*FORMATS, *allowed})
        if unknown:
            also = f" and optionally {', '.join(sorted(allowed))}" if allowed else ""
            raise BadInput(f"unknown field(s) {unknown}; give one of {_NAMED}{also}")
    keys = [k for k in FORMATS if k in body]
    if len(keys) != 1:
        raise BadInput(f"give exactly one of {_NAMED}")
    key, payload = keys[0], body[keys[0]]
    if key == "dataframe_split":
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise BadInput("dataframe_split needs 'columns' (the column names) and 'data' (a list of rows)")
        names = payload.get("columns")
        if not names and columns is not None:  # the model's own columns, in its order
            return _rows(payload["data"], columns, key)
        if not isinstance(names, list) or not names or not all(isinstance(c, str) for c in names):
            raise BadInput("dataframe_split.columns must be a non-empty list of column names")
        if len(set(names)) != len(names):
            raise BadInput("dataframe_split.columns names a column twice")
        return _rows(payload["data"], names, key)
    if isinstance(payload, list):
        if all(isinstance(r, dict) for r in payload):
            names = list(dict.fromkeys(k for r in payload for k in r))
            # A key left out of a record is null; no records at all: the model's columns, empty.
            return {c: [r.get(c) for r in payload] for c in names or columns or []}
        if columns is None:
            raise BadInput(f"{key} must be a list of records ({{column: value}} objects)")
        return _rows(payload, columns, key)
    if isinstance(payload, dict):
        if not payload:
            raise BadInput(f"{key} must name at least one column")
        if single_values:
            return {str(k): v if isinstance(v, list) else [v] for k, v in payload.items()}
        if not all(isinstance(v, list) for v in payload.values()):
            raise BadInput(f"{key}: every column must be a list of values ({{column: [values]}})")
        return {str(k): v for k, v in payload.items()}
    raise BadInput(f"{key} must be a list of records, or an object {{column: [values]}}")


def parse_for_model(body: Any, model: LoadedModel, max_rows: int) -> Features:
    """The columns `/invocations` predicts on: the body parsed with the model's columns, then checked."""
    rows = _number_rows(body, model, max_rows)
    if rows is not None:
        return rows
    values = parse(body, columns=model.column_names, single_values=True)
    return check(values, model, max_rows, parsed_json=True)


def _number_rows(body: Any, model: LoadedModel, max_rows: int) -> Features | None:
    """The usual request to a model of number columns, rows in the model's column order
    (`dataframe_split` with the model's columns or none, `instances` as lists), straight into one
    matrix without a list per column. None: anything else, which the general path parses (and
    names, if it is wrong)."""
    if model.number_index is None or not isinstance(body, dict):
        return None
    if "inputs" in body or "dataframe_records" in body:
        return None
    names = model.column_names
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        if "instances" in body or not isinstance(split, dict):
            return None
        given, rows = split.get("columns"), split.get("data")
        if given and given != names:
            return None
    else:
        rows = body.get("instances")
    if not isinstance(rows, list) or not 0 < len(rows) <= max_rows:
        return None
    matrix = checks.number_rows(rows, len(names), parsed_json=True)
    return None if matrix is None else Features(names, model.number_index, matrix, {})


def _rows(rows: list[Any], columns: list[str], key: str) -> dict[str, list[Any]]:
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            raise BadInput(f"{key}: row {i} must be a list of {len(columns)} values ({columns})")
    if not rows:
        return {c: [] for c in columns}
    # Every row has len(columns) values (checked above): transpose at C speed.
    return {c: list(values) for c, values in zip(columns, zip(*rows, strict=True), strict=True)}
