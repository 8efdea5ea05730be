"""Row checks of a chunk (airfoil.steps.checks.check_rows): every rejection rule, with its reason."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from airfoil.errors import DataError
from airfoil.spec.model import ColumnRule
from airfoil.steps.checks import check_rows

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
