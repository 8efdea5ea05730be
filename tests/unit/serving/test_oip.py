"""Open Inference Protocol request tensors -> checked columns (airfoil.serving.oip), on a hand-built model."""

from __future__ import annotations

from typing import Any

import pytest

from airfoil.registry.loaded import LoadedModel
from airfoil.serving import oip
from airfoil.serving.http import BadInput
from tests.unit.serving.serving_support import MAX, assert_columns, bad, good_oip, schema_model, tensor


def test_oip_per_column(served: LoadedModel) -> None:
    assert_columns(oip.parse(good_oip(), served, MAX))


def test_oip_column_as_n_by_1_and_integer_types(served: LoadedModel) -> None:
    body = good_oip(age=tensor("age", [[30], [41.5]], "INT64", [2, 1]))
    assert_columns(oip.parse(body, served, MAX))


def test_oip_one_2d_input_in_column_order(served: LoadedModel) -> None:
    numeric = schema_model("nums", "regression", {"a": ("number", True), "b": ("number", True)}, [])
    flat = oip.parse({"inputs": [tensor("x", [1, 2.5, None, 4], "FP64", [2, 2])]}, numeric, MAX)
    assert flat["a"].tolist()[0] == 1.0 and flat["b"].tolist()[1] == 4.0
    nested = oip.parse({"inputs": [tensor("x", [[1, 2.5], [3, 4]], "FP64", [2, 2])]}, numeric, MAX)
    assert nested["a"].tolist() == [1.0, 3.0]
    with pytest.raises(BadInput, match="does not fit"):
        oip.parse({"inputs": [tensor("x", ["1", "2", "3", "4"], "BYTES", [2, 2])]}, numeric, MAX)


def test_oip_one_2d_input_refused_for_mixed_column_types(served: LoadedModel) -> None:
    body = {"inputs": [tensor("x", [30, 1000.0, "Oslo", None, 41.5, None, "Lima", "x"], "BYTES", [2, 4])]}
    with pytest.raises(BadInput, match="send one input per column"):
        oip.parse(body, served, MAX)


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
def test_oip_refusals_name_the_field(served: LoadedModel, body: Any, message: str) -> None:
    with bad(message):
        oip.parse(body, served, MAX)
