"""A transient request's body: rows in an MLflow scoring format, and an optional request id.

Values must be JSON scalars; whether they fit the model is checked per row by the DAG (the model
is trained there), which stores a row that does not fit as rejected, with the reason.
"""

from __future__ import annotations

import math
import re
from typing import Any

from airfoil.serving import mlflow_format
from airfoil.serving.columns import count_rows
from airfoil.serving.http import BadInput, request_body

# A request id becomes part of a DAG run id and of a file name: keep it to safe characters.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")


def parse_request(body: Any, max_rows: int) -> tuple[str | None, dict[str, list[Any]]]:
    """(client request id or None, {column: [values]}) from an MLflow scoring body."""
    request_id = body.get("request_id") if isinstance(body, dict) else None
    if request_id is not None and (not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id)):
        raise BadInput(
            "request_id must be a string of 1-128 letters, digits, '_', '.', ':' or '-' "
            "starting with a letter or digit"
        )
    values = mlflow_format.parse(body, allowed=frozenset({"request_id"}))
    count_rows(values, max_rows)
    for name, column in values.items():
        for i, v in enumerate(column):
            if isinstance(v, dict | list):
                raise BadInput(f"column {name!r}: row {i} holds a {type(v).__name__}, not a single value")
            if isinstance(v, float) and not math.isfinite(v):
                raise BadInput(f"column {name!r}: row {i} is not a finite number")
    return request_id, values


# A transient row's value: any JSON scalar; the DAG checks it against the model it trains, per row.
_VALUE = {"type": ["number", "string", "boolean", "null"]}


def openapi(max_rows: int) -> dict[str, Any]:
    """The request body's schema, as `parse_request` reads it (for the route's `openapi_extra`)."""
    request_id = {
        "type": "string",
        "pattern": f"^{REQUEST_ID.pattern}$",
        "description": "your id for the request: sending it again answers the same request",
    }
    body = mlflow_format.schema(
        max_rows, _VALUE, rows_as_lists=False, single_values=False, fields={"request_id": request_id}
    )
    return request_body(
        {"title": "TransientRequest", **body},
        example={
            "request_id": "order-1234",
            "dataframe_split": {
                "columns": ["precipitation", "temp_max", "temp_min", "wind", "month"],
                "data": [[0.0, 21.1, 11.7, 3.2, 7]],
            },
        },
    )
