"""A transient request's body (airfoil.serving.transient.request): formats, ids, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from airfoil.serving.http import BadInput
from airfoil.serving.transient.request import parse_request


def test_parse_request_formats_agree() -> None:
    split = {"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2.5, None]]}}
    records = {"dataframe_records": [{"a": 1, "b": "x"}, {"a": 2.5}]}
    inputs = {"inputs": {"a": [1, 2.5], "b": ["x", None]}, "request_id": "r-1"}
    assert parse_request(split, 10) == (None, {"a": [1, 2.5], "b": ["x", None]})
    assert parse_request(records, 10) == (None, {"a": [1, 2.5], "b": ["x", None]})
    assert parse_request(inputs, 10) == ("r-1", {"a": [1, 2.5], "b": ["x", None]})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("text", "JSON object"),
        ({"inputs": {"a": [1]}, "request_id": ""}, "request_id must be"),
        ({"inputs": {"a": [1]}, "request_id": "x" * 129}, "request_id must be"),
        ({"inputs": {"a": [1]}, "request_id": 7}, "request_id must be"),
        ({"inputs": {}}, "at least one column"),
        ({"inputs": {"a": 1}}, "every column must be a list"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, "twice"),
        ({"dataframe_split": {"columns": [], "data": []}}, "non-empty list"),
        ({"dataframe_records": [{"a": {"b": 1}}]}, "not a single value"),
        ({"dataframe_records": [{"a": float("nan")}]}, "not a finite number"),
        ({"inputs": {"a": [1]}, "instances": [{"a": 1}]}, "exactly one of"),
    ],
)
def test_parse_request_rejects(body: Any, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_request(body, 10)


def test_parse_request_row_limit_is_413() -> None:
    with pytest.raises(BadInput) as err:
        parse_request({"inputs": {"a": [1, 2, 3]}}, 2)
    assert err.value.status == 413
