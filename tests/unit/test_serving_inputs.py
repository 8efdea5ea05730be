"""Request bodies -> checked columns (airfoil.serving.inputs), on a hand-built model schema."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from airfoil.serving.inputs import BadInput, check, from_mlflow, from_oip
from airfoil.serving.loaded import Served

MAX = 100


@pytest.fixture
def served() -> Served:
    return Served(
        name="toy",
        version=1,
        task="classification",
        columns=[
            {"name": "age", "type": "number", "nullable": False},
            {"name": "income", "type": "number", "nullable": True},
            {"name": "city", "type": "string", "nullable": False},
            {"name": "note", "type": "string", "nullable": True},
        ],
        classes=["no", "yes"],
        backend="sklearn",
        metrics={},
    )


def tensor(name: str, data: list[Any], datatype: str | None = None, shape: list[int] | None = None) -> dict:
    kind = datatype or ("BYTES" if data and isinstance(data[0], str) else "FP64")
    return {"name": name, "shape": shape or [len(data)], "datatype": kind, "data": data}


def good_oip(**override: dict) -> dict[str, Any]:
    inputs = {
        "age": tensor("age", [30, 41.5]),
        "income": tensor("income", [1000.0, None]),
        "city": tensor("city", ["Oslo", "Lima"]),
        "note": tensor("note", [None, "x"], datatype="BYTES"),
    }
    inputs.update(override)
    return {"inputs": [t for t in inputs.values() if t]}


@contextlib.contextmanager
def bad(message: str, status: int = 400) -> Iterator[None]:
    """The block raises BadInput with this HTTP status and a message matching `message`."""
    with pytest.raises(BadInput, match=message) as info:
        yield
    assert info.value.status == status


def assert_columns(out: dict[str, Any]) -> None:
    assert list(out) == ["age", "income", "city", "note"]
    assert out["age"].dtype == np.float64 and out["age"].tolist() == [30.0, 41.5]
    assert out["income"][0] == 1000.0 and math.isnan(out["income"][1])
    assert out["city"] == ["Oslo", "Lima"] and out["note"] == [None, "x"]


# --- Open Inference Protocol ---------------------------------------------------------------------
def test_oip_per_column(served: Served) -> None:
    assert_columns(from_oip(good_oip(), served, MAX))


def test_oip_column_as_n_by_1_and_integer_types(served: Served) -> None:
    body = good_oip(age=tensor("age", [[30], [41.5]], "INT64", [2, 1]))
    assert_columns(from_oip(body, served, MAX))


def test_oip_one_2d_input_in_column_order(served: Served) -> None:
    numeric = Served(
        name="nums",
        version=1,
        task="regression",
        columns=[
            {"name": "a", "type": "number", "nullable": True},
            {"name": "b", "type": "number", "nullable": True},
        ],
        classes=[],
        backend="sklearn",
        metrics={},
    )
    flat = from_oip({"inputs": [tensor("x", [1, 2.5, None, 4], "FP64", [2, 2])]}, numeric, MAX)
    assert flat["a"].tolist()[0] == 1.0 and flat["b"].tolist()[1] == 4.0
    nested = from_oip({"inputs": [tensor("x", [[1, 2.5], [3, 4]], "FP64", [2, 2])]}, numeric, MAX)
    assert nested["a"].tolist() == [1.0, 3.0]
    with pytest.raises(BadInput, match="does not fit"):
        from_oip({"inputs": [tensor("x", ["1", "2", "3", "4"], "BYTES", [2, 2])]}, numeric, MAX)


def test_oip_one_2d_input_refused_for_mixed_column_types(served: Served) -> None:
    body = {"inputs": [tensor("x", [30, 1000.0, "Oslo", None, 41.5, None, "Lima", "x"], "BYTES", [2, 4])]}
    with pytest.raises(BadInput, match="send one input per column"):
        from_oip(body, served, MAX)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "JSON object"),
        ({}, "inputs"),
        ({"inputs": []}, "inputs"),
        ({"inputs": [3]}, r"inputs\[0\]"),
        ({"inputs": [{"shape": [1], "datatype": "FP64", "data": [1]}]}, r"inputs\[0\]\.name"),
        (good_oip(age={"name": "age", "shape": [2], "datatype": 64, "data": [1, 2]}), "'age': datatype"),
        (good_oip(age=tensor("age", [1, 2], shape=[3])), "'age': shape"),
        (good_oip(age=tensor("age", [1, 2], shape=[-2])), "'age': shape"),
        (good_oip(age=tensor("age", [1, 2], shape=[1, 2])), r"'age': a column input has shape \[n\]"),
        (good_oip(age={"name": "age", "shape": [2], "datatype": "FP64", "data": "12"}), "'age': data"),
        (good_oip(age=tensor("age", ["a", "b"], "BYTES")), "'age': datatype BYTES"),
        (good_oip(city=tensor("city", [1.0, 2.0], "FP64")), "'city': datatype FP64"),
        (good_oip(extra=tensor("extra", [1, 2])), "unknown input 'extra'"),
        (good_oip(age=None), r"missing column\(s\) \['age'\]"),
        (good_oip(age=tensor("age", [1.0])), "different lengths"),
        ({"inputs": [tensor("x", [1, 2, 3], "FP64", [1, 3])]}, "unknown input 'x'"),
    ],
)
def test_oip_refusals_name_the_field(served: Served, body: Any, message: str) -> None:
    with bad(message):
        from_oip(body, served, MAX)


# --- MLflow scoring formats --------------------------------------------------------------------------
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
def test_mlflow_formats(served: Served, body: dict[str, Any]) -> None:
    assert_columns(from_mlflow(body, served, MAX))


def test_mlflow_records_in_any_key_order(served: Served) -> None:
    assert_columns(
        from_mlflow({"dataframe_records": [dict(reversed(r.items())) for r in RECORDS]}, served, MAX)
    )


def test_mlflow_single_row_of_scalars(served: Served) -> None:
    out = from_mlflow({"inputs": {"age": 3, "income": 1.5, "city": "Oslo", "note": None}}, served, MAX)
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
def test_mlflow_refusals_name_the_field(served: Served, body: Any, message: str) -> None:
    with bad(message):
        from_mlflow(body, served, MAX)


# --- check: limits and values ---------------------------------------------------------------------------
def columns(n: int, **override: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"age": [1.0] * n, "income": [2.0] * n, "city": ["a"] * n, "note": [None] * n}
    out.update(override)
    return out


def test_check_row_limit_is_413(served: Served) -> None:
    assert len(check(columns(MAX), served, MAX)["city"]) == MAX
    with bad(f"{MAX + 1} rows is more than the limit of {MAX}", 413):
        check(columns(MAX + 1), served, MAX)


@pytest.mark.parametrize(
    ("n", "override", "message"),
    [
        (1, {"age": [float("nan")]}, "'age': missing value .* row 0"),
        (2, {"age": [1.0, float("nan")]}, "'age': missing value .* row 1"),
        (1, {"income": [float("inf")]}, "'income': infinite value in row 0"),
        (1, {"age": [-float("inf")]}, "'age': infinite value"),
        (1, {"age": "1"}, "every column must be a list"),
        (1, {"age": [False]}, "'age': expected a number, got False"),
        (2, {"age": [1.5, True]}, "'age': expected a number, got True"),
        (1, {"age": [{"v": 1}]}, "'age': expected a number"),
        (1, {"note": [3]}, "'note': expected text"),
    ],
)
def test_check_values(served: Served, n: int, override: dict[str, Any], message: str) -> None:
    with bad(message):
        check(columns(n, **override), served, MAX)


def test_check_allows_nulls_where_the_schema_does(served: Served) -> None:
    out = check(columns(2, income=[None, float("nan")], note=[None, "x"]), served, MAX)
    assert np.isnan(out["income"]).all() and out["note"] == [None, "x"]


def test_check_accepts_integers_and_large_integers(served: Served) -> None:
    out = check(columns(2, age=[1, 2**70]), served, MAX)
    assert out["age"].dtype == np.float64 and out["age"][1] == float(2**70)
