"""Row checks and the store's row shape (airfoil.steps.scoring): every rejection rule, with its reason."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from airfoil.errors import DataError
from airfoil.spec.model import ColumnRule
from airfoil.steps.scoring import check_rows, decode, label_text, prediction_table, probabilities_json
from airfoil.store.schema import PREDICTION_COLUMNS

COLUMNS: list[dict[str, Any]] = [
    {"name": "a", "type": "number", "nullable": False},
    {"name": "b", "type": "number", "nullable": True},
    {"name": "c", "type": "string", "nullable": False},
]
RULES = {"a": ColumnRule(min=0, max=10), "c": ColumnRule(allowed=["x", "y"])}


def _table(a: list[Any], b: list[Any] | None = None, c: list[Any] | None = None) -> pa.Table:
    n = len(a)
    if any(isinstance(v, str) for v in a):  # as a CSV column arrives: text
        a = [None if v is None else str(v) for v in a]
    return pa.table(
        {
            "a": pa.array(a),
            "b": pa.array(b if b is not None else [1.0] * n, pa.float64()),
            "c": pa.array(c if c is not None else ["x"] * n, pa.string()),
        }
    )


def _reasons(table: pa.Table, rules: dict[str, ColumnRule] | None = RULES) -> list[Any]:
    return list(check_rows(table, COLUMNS, rules).reasons)


def test_good_rows_pass_with_their_values() -> None:
    checked = check_rows(_table([1.0, 2.5], b=[None, 3.0], c=["x", "y"]), COLUMNS, RULES)
    assert checked.ok.tolist() == [True, True]
    assert checked.rejected == 0
    assert checked.reasons.tolist() == [None, None]
    np.testing.assert_array_equal(checked.values["a"], [1.0, 2.5])
    assert math.isnan(checked.values["b"][0])  # a null in a nullable column is kept (NaN) for the model
    assert checked.values["c"].tolist() == ["x", "y"]


def test_text_in_a_number_column() -> None:
    # CSV columns arrive as text: numbers in it are parsed, anything else rejects its row only.
    checked = check_rows(_table(["1.5", "abc", "7"]), COLUMNS, RULES)
    assert checked.reasons.tolist() == [None, "a: 'abc' is not a number", None]
    np.testing.assert_array_equal(checked.values["a"], [1.5, 7.0])  # good rows only
    assert checked.values["c"].tolist() == ["x", "x"]


@pytest.mark.parametrize("missing", [None, ""], ids=["null", "empty-text"])
def test_missing_value_where_none_is_allowed(missing: Any) -> None:
    values = ["3", missing] if missing == "" else [3.0, missing]
    assert _reasons(_table(values)) == [None, "a: missing value, and the model's column allows none"]


def test_null_in_a_nullable_column_is_fine() -> None:
    assert _reasons(_table([1.0, 2.0], b=[None, None])) == [None, None]


def test_infinite_values() -> None:
    reasons = _reasons(_table([1.0, 2.0, 3.0], b=[math.inf, -math.inf, 1.0]))
    assert reasons == ["b: infinite value", "b: infinite value", None]
    assert _reasons(_table(["inf", "1"]), rules=None) == ["a: infinite value", None]


def test_minimum_and_maximum() -> None:
    reasons = _reasons(_table([-1.0, 0.0, 10.0, 11.5]))
    assert reasons == [
        "a: -1 is below the minimum 0",
        None,
        None,
        "a: 11.5 is above the maximum 10",
    ]


def test_string_rules() -> None:
    reasons = _reasons(_table([1.0, 2.0, 3.0], c=["x", None, "z"]))
    assert reasons == [
        None,
        "c: missing value, and the model's column allows none",
        "c: 'z' is not one of the allowed values ['x', 'y']",
    ]


def test_first_problem_of_a_row_is_kept() -> None:
    # Columns are checked in the model's order: a's problem wins over c's.
    assert _reasons(_table(["abc"], c=["z"])) == ["a: 'abc' is not a number"]
    assert _reasons(_table([-4.0], b=[math.inf])) == ["a: -4 is below the minimum 0"]


def test_string_column_from_numbers_and_integer_number_column() -> None:
    columns = [{"name": "n", "type": "number", "nullable": True}, {"name": "s", "type": "string"}]
    table = pa.table({"n": pa.array([1, 2], pa.int64()), "s": pa.array([3, 4], pa.int64())})
    checked = check_rows(table, columns, {"s": ColumnRule(allowed=[3])})
    assert checked.reasons.tolist() == [None, "s: '4' is not one of the allowed values [3]"]
    assert checked.values["n"].dtype == np.float64


def test_missing_column_is_the_inputs_fault() -> None:
    with pytest.raises(DataError, match=r"no column\(s\) \['c'\]"):
        check_rows(pa.table({"a": [1.0], "b": [1.0]}), COLUMNS, RULES)


def test_unusable_type_in_a_number_column() -> None:
    table = _table([1.0]).set_column(0, "a", pa.array([b"\x00"], pa.binary()))
    with pytest.raises(DataError, match="column 'a' holds binary"):
        check_rows(table, COLUMNS, RULES)


def test_all_null_column() -> None:
    table = _table([1.0, 2.0]).set_column(1, "b", pa.nulls(2))
    assert check_rows(table, COLUMNS, RULES).reasons.tolist() == [None, None]
    table = _table([1.0, 2.0]).set_column(0, "a", pa.nulls(2))
    assert set(check_rows(table, COLUMNS, RULES).reasons) == {
        "a: missing value, and the model's column allows none"
    }


# --- the store's rows -----------------------------------------------------------------------------
def _checked(a: list[Any]) -> Any:
    return check_rows(_table(a), COLUMNS, RULES)


def test_prediction_table_with_rejected_rows() -> None:
    checked = _checked([1.0, "abc", 3.0, -1.0])
    labels = np.array(["no", "yes"])
    proba = np.array([[0.75, 0.25], [0.125, 0.875]])
    table = prediction_table(
        checked,
        labels,
        proba,
        classes=["no", "yes"],
        row_index=np.arange(10, 14),
        row_id=pa.array(["r10", "r11", "r12", "r13"]),
        model_version=7,
    )
    assert table.column_names == list(PREDICTION_COLUMNS)
    rows = table.to_pylist()
    assert [r["row_index"] for r in rows] == [10, 11, 12, 13]
    assert [r["row_id"] for r in rows] == ["r10", "r11", "r12", "r13"]
    assert [r["model_version"] for r in rows] == [7] * 4
    assert [r["prediction"] for r in rows] == ["no", None, "yes", None]
    assert [r["rejected"] for r in rows] == [
        None,
        "a: 'abc' is not a number",
        None,
        "a: -1 is below the minimum 0",
    ]
    assert rows[1]["probabilities"] is None and rows[3]["probabilities"] is None
    assert json.loads(rows[0]["probabilities"]) == {"no": 0.75, "yes": 0.25}
    assert json.loads(rows[2]["probabilities"]) == {"no": 0.125, "yes": 0.875}


def test_prediction_table_all_good_regression_without_ids() -> None:
    checked = _checked([1.0, 2.0])
    table = prediction_table(checked, np.array([0.5, 1.5]), None, classes=[], row_index=np.arange(2))
    rows = table.to_pylist()
    assert [r["prediction"] for r in rows] == ["0.5", "1.5"]
    assert all(r["probabilities"] is None and r["rejected"] is None for r in rows)
    assert all(r["row_id"] is None and r["model_version"] is None for r in rows)
    assert table.schema.field("model_version").type == pa.int64()


def test_prediction_table_every_row_rejected() -> None:
    checked = _checked(["?", "!"])
    table = prediction_table(
        checked, np.array([]), np.zeros((0, 2)), classes=[0, 1], row_index=np.arange(2), row_id=[5, 6]
    )
    rows = table.to_pylist()
    assert [r["prediction"] for r in rows] == [None, None]
    assert [r["probabilities"] for r in rows] == [None, None]
    assert [r["row_id"] for r in rows] == ["5", "6"]  # ids are stored as text
    assert all(r["rejected"] for r in rows)


@pytest.mark.parametrize(
    ("classes", "keys"),
    [(["benign", "malignant"], ["benign", "malignant"]), ([0, 1, 2], ["0", "1", "2"]), ([False, True], None)],
)
def test_probabilities_json(classes: list[Any], keys: list[str] | None) -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(len(classes)), size=50)
    out = probabilities_json(proba, classes).to_pylist()
    assert len(out) == 50
    expected_keys = keys or [label_text(c) for c in classes]
    for text, row in zip(out, proba, strict=True):
        parsed = json.loads(text)
        assert list(parsed) == expected_keys
        np.testing.assert_allclose([parsed[k] for k in expected_keys], row, rtol=1e-6)


def test_probabilities_json_quotes_labels() -> None:
    (text,) = probabilities_json(np.array([[0.5, 0.5]]), ['say "hi"', "back\\slash"]).to_pylist()
    assert json.loads(text) == {'say "hi"': 0.5, "back\\slash": 0.5}


def test_decode_reads_labels_back_in_their_type() -> None:
    table = prediction_table(
        _checked([1.0, "bad"]),
        np.array([1]),
        np.array([[0.25, 0.75]]),
        classes=[0, 1],
        row_index=np.arange(2),
        row_id=["a", "b"],
    )
    out = decode(table.to_pylist(), [0, 1])
    assert out == [
        {"row": 0, "id": "a", "prediction": 1, "probabilities": {"0": 0.25, "1": 0.75}},
        {"row": 1, "id": "b", "prediction": None, "rejected": "a: 'bad' is not a number"},
    ]
    regression = prediction_table(_checked([1.0]), np.array([2.5]), None, classes=[], row_index=np.arange(1))
    assert decode(regression.to_pylist(), None) == [{"row": 0, "prediction": 2.5}]
