"""The request schemas of the OpenAPI document against the parsers they describe: a body a parser
takes is valid, and a body the schema forbids is refused (what a generated client relies on)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from airfoil.registry.loaded import LoadedModel
from airfoil.serving import mlflow_format, oip
from airfoil.serving.transient.request import openapi, parse_request
from tests.unit.serving.serving_support import MAX, bad, good_oip, tensor
from tests.unit.serving.test_mlflow_format import COLS, RECORDS, ROWS


def valid(schema: dict[str, Any], body: Any) -> bool:
    return Draft202012Validator(schema).is_valid(body)


# --- Open Inference Protocol ----------------------------------------------------------------------
OIP_TAKEN = [
    good_oip(),
    {**good_oip(), "id": "r-1", "parameters": {"x": 1}, "outputs": [{"name": "predict", "parameters": {}}]},
    good_oip(age=tensor("age", [[30], [41.5]], "INT64", [2, 1])),
    good_oip(age=tensor("age", [30, 41.5], "FP16")),
]


@pytest.mark.parametrize("body", OIP_TAKEN)
def test_oip_bodies_the_parser_takes_are_valid(served: LoadedModel, body: dict[str, Any]) -> None:
    oip.parse(body, served, MAX)
    oip.requested_outputs(body, served)
    assert valid(oip.request_schema(MAX), body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**good_oip(), "id": 5}, "id must be a string"),
        ({**good_oip(), "parameters": "x"}, "the request: parameters"),
        (good_oip(age={**tensor("age", [30, 41.5]), "parameters": []}), "'age': parameters"),
        (good_oip(age=tensor("age", [30], shape=[True])), "'age': shape"),
        (good_oip(age=tensor("age", [], shape=[0])), "different lengths"),
        (good_oip(age=tensor("age", [30, 41.5], "BOOL")), "datatype BOOL"),
        (good_oip(age=tensor("age", [30], shape=[MAX + 1])), "holds 101 values"),
    ],
)
def test_oip_bodies_the_schema_forbids_are_refused(
    served: LoadedModel, body: dict[str, Any], message: str
) -> None:
    assert not valid(oip.request_schema(MAX), body)
    with bad(message):
        oip.parse(body, served, MAX)


@pytest.mark.parametrize("outputs", [None, [{"name": "predict", "parameters": 1}], [{"name": "proba"}]])
def test_oip_outputs_the_schema_forbids_are_refused(served: LoadedModel, outputs: Any) -> None:
    body = {**good_oip(), "outputs": outputs}
    assert not valid(oip.request_schema(MAX), body)
    with bad("output"):
        oip.requested_outputs(body, served)


def test_oip_datatypes_are_exactly_the_ones_a_column_takes() -> None:
    assert set(oip.DATATYPES) == {"BYTES"} | oip._NUMERIC
    assert "BOOL" not in oip.DATATYPES and "FP16" in oip.DATATYPES


# --- MLflow scoring format ------------------------------------------------------------------------
MLFLOW_TAKEN = [
    {"dataframe_split": {"columns": COLS, "data": ROWS}},
    {"dataframe_split": {"data": ROWS}},
    {"dataframe_split": {"columns": None, "data": ROWS}},
    {"dataframe_split": {"columns": COLS, "data": ROWS, "index": [0, 1]}},
    {"dataframe_records": RECORDS},
    {"dataframe_records": ROWS},
    {"instances": RECORDS, "params": {"ignored": True}},
    {"instances": ROWS},
    {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(COLS)}},
    {"inputs": {"age": 3, "income": 1.5, "city": "Oslo", "note": None}},
]


@pytest.mark.parametrize("body", MLFLOW_TAKEN)
def test_mlflow_bodies_the_parser_takes_are_valid(served: LoadedModel, body: dict[str, Any]) -> None:
    mlflow_format.parse_for_model(body, served, MAX)
    assert valid(mlflow_format.model_schema(MAX), body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "exactly one"),
        ({"instances": ROWS, "inputs": ROWS}, "exactly one"),
        ({"dataframe_split": {"columns": COLS}}, "dataframe_split needs"),
        ({"dataframe_split": {"columns": ["age", "age"], "data": ROWS}}, "twice"),
        ({"dataframe_records": []}, "empty"),
        ({"dataframe_records": [{**RECORDS[0], "age": True}]}, "expected a number, got True"),
        ({"dataframe_records": [{**RECORDS[0], "age": [1]}]}, "expected a number"),
        ({"inputs": {}}, "at least one column"),
        ({"inputs": {"age": [[1]], "income": [1], "city": ["a"], "note": [None]}}, "expected a number"),
        ({"dataframe_records": [RECORDS[0]] * (MAX + 1)}, "more than the limit"),
    ],
)
def test_mlflow_bodies_the_schema_forbids_are_refused(served: LoadedModel, body: Any, message: str) -> None:
    assert not valid(mlflow_format.model_schema(MAX), body)
    status = 413 if "limit" in message else 400
    with bad(message, status):
        mlflow_format.parse_for_model(body, served, MAX)


# --- transient requests ---------------------------------------------------------------------------
TRANSIENT = openapi(MAX)["requestBody"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2.5, None]]}},
        {"dataframe_records": [{"a": 1, "b": True}, {}], "request_id": "r-1"},
        {"inputs": {"a": [1, 2.5], "b": ["x", None]}},
    ],
)
def test_transient_bodies_the_parser_takes_are_valid(body: dict[str, Any]) -> None:
    parse_request(body, MAX)
    assert valid(TRANSIENT, body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": {"a": [1]}, "request_id": "-x"}, "request_id must be"),
        ({"inputs": {"a": [1]}, "other": 1}, "unknown field"),
        ({"inputs": {"a": 1}}, "every column must be a list"),
        ({"instances": [[1, 2]]}, "list of records"),
        ({"dataframe_records": [{}]}, "empty"),
        ({"dataframe_split": {"data": [[1]]}}, "non-empty list"),
        ({"dataframe_records": [{"a": {"b": 1}}]}, "not a single value"),
    ],
)
def test_transient_bodies_the_schema_forbids_are_refused(body: Any, message: str) -> None:
    assert not valid(TRANSIENT, body)
    with bad(message):
        parse_request(body, MAX)
