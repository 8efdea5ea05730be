"""MLflow scoring bodies -> checked columns (airfoil.serving.mlflow_format), on a hand-built model."""

from __future__ import annotations

from typing import Any

import pytest

from airfoil.registry.loaded import LoadedModel
from airfoil.serving.mlflow_format import parse_for_model
from tests.unit.serving.serving_support import MAX, assert_columns, bad

ROWS = [[30, 1000.0, "Oslo", None], [41.5, None, "Lima", "x"]]
COLS = ["age", "income", "city", "note"]
RECORDS = [dict(zip(COLS, r, strict=True)) for r in ROWS]


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": COLS, "data": ROWS}},
        {"dataframe_split": {"data": ROWS}},
        {"dataframe_split": {"columns": COLS, "data": ROWS, "index": [0, 1]}},
        {"dataframe_records": RECORDS},
        {"instances": RECORDS},
        {"instances": ROWS},
        {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(COLS)}},
        {"inputs": RECORDS},
    ],
    ids=[
        "split",
        "split-no-columns",
        "split-index",
        "records",
        "instances",
        "instances-rows",
        "inputs",
        "inputs-records",
    ],
)
def test_mlflow_formats(served: LoadedModel, body: dict[str, Any]) -> None:
    assert_columns(parse_for_model(body, served, MAX))


def test_mlflow_records_in_any_key_order(served: LoadedModel) -> None:
    assert_columns(
        parse_for_model({"dataframe_records": [dict(reversed(r.items())) for r in RECORDS]}, served, MAX)
    )


def test_mlflow_single_row_of_scalars(served: LoadedModel) -> None:
    out = parse_for_model({"inputs": {"age": 3, "income": 1.5, "city": "Oslo", "note": None}}, served, MAX)
    assert out["age"].tolist() == [3.0] and out["city"] == ["Oslo"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({}, "exactly one"),
        ({"instances": ROWS, "inputs": ROWS}, "exactly one"),
        ({"dataframe_split": {"columns": COLS}}, "dataframe_split needs"),
        ({"dataframe_split": {"columns": [1, 2, 3, 4], "data": ROWS}}, "columns must be"),
        ({"dataframe_split": {"columns": COLS, "data": [ROWS[0][:3]]}}, "row 0"),
        ({"instances": 5}, "instances must be"),
        ({"instances": [1, 2]}, "row 0"),
        ({"dataframe_records": [{**RECORDS[0], "age": None}]}, "'age': missing value"),
        ({"dataframe_records": [{**RECORDS[0], "age": "old"}]}, "'age': expected a number, got 'old'"),
        (
            {"dataframe_records": [{**RECORDS[0], "age": True}, RECORDS[1]]},
            "'age': expected a number, got True",
        ),
        ({"dataframe_records": [{**RECORDS[0], "age": [1]}]}, "'age': expected a number"),
        ({"dataframe_records": [{**RECORDS[0], "city": None}]}, "'city': missing value in row 0"),
        (
            {"dataframe_records": [RECORDS[0], {**RECORDS[1], "city": 7}]},
            "'city': expected text, got 7 in row 1",
        ),
        (
            {"dataframe_records": [{k: v for k, v in RECORDS[0].items() if k != "city"}]},
            r"missing column\(s\) \['city'\]",
        ),
        ({"dataframe_records": [{**RECORDS[0], "zip": 1}]}, r"unknown column\(s\) \['zip'\]"),
        ({"dataframe_records": []}, "empty"),
        ({"inputs": {"age": 1, "income": [1, 2], "city": "a", "note": None}}, "different lengths"),
    ],
)
def test_mlflow_refusals_name_the_field(served: LoadedModel, body: Any, message: str) -> None:
    with bad(message):
        parse_for_model(body, served, MAX)
