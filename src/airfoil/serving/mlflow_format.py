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

# A value the model's check takes (steps.checks.check_values): a number, a text, or null (missing).
MODEL_VALUE: dict[str, Any] = {"type": ["number", "string", "null"]}


def schema(
    max_rows: int,
    value: dict[str, Any],
    *,
    rows_as_lists: bool,
    single_values: bool,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON schema of the bodies `parse` takes with the same options: `rows_as_lists` when it is
    given the model's columns, `single_values` as there, `fields` the other top-level fields allowed
    (None: any, ignored); `value` is the caller's rule for one value; at most `max_rows` rows."""

    def rows_of(row: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": row, "minItems": 1, "maxItems": max_rows}

    record: dict[str, Any] = {"type": "object", "additionalProperties": value}
    records = rows_of(record)
    if not rows_as_lists:  # no model columns to fall back on: some record must name a column
        records = {**records, "contains": {"type": "object", "minProperties": 1}}
    rows = [records, rows_of({"type": "array", "items": value})] if rows_as_lists else [records]
    column = rows_of(value)
    by_column = {
        "type": "object",
        "description": "{column: [values]}" + (" or {column: value} for one row" if single_values else ""),
        "minProperties": 1,
        "additionalProperties": {"anyOf": [column, value]} if single_values else column,
    }
    names: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    split: dict[str, Any] = {
        "type": "object",
        "properties": {"data": rows_of({"type": "array", "items": value})},
    }
    if rows_as_lists:
        split["required"] = ["data"]
        split["properties"]["columns"] = {"anyOf": [names, {"type": "null"}]}
        split["description"] = "without columns (null or []), the rows hold the model's columns in order"
    else:
        split["required"] = ["columns", "data"]
        split["properties"]["columns"] = {**names, "minItems": 1}
    # The three keys are read alike (records, rows or columns), as MLflow's own server reads them.
    rows_or_columns = {"anyOf": [*rows, by_column]}
    properties = {**(fields or {}), "dataframe_split": split}
    properties.update({key: rows_or_columns for key in FORMATS[1:]})
    out: dict[str, Any] = {
        "type": "object",
        "description": f"Exactly one of {_NAMED}.",
        "properties": properties,
        "oneOf": [{"required": [key]} for key in FORMATS],
    }
    if fields is not None:
        out["additionalProperties"] = False
    return out


def model_schema(max_rows: int) -> dict[str, Any]:
    """The schema of `/invocations` bodies: what `parse_for_model` takes from any model."""
    return {
        "title": "ScoringRequest",
        **schema(max_rows, MODEL_VALUE, rows_as_lists=True, single_values=True),
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
