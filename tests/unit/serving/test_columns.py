"""A request's columns against limits and the model's schema (airfoil.serving.columns)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from airfoil.registry.loaded import LoadedModel
from airfoil.serving.columns import check
from tests.unit.serving.serving_support import MAX, bad


def columns(n: int, **override: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"age": [1.0] * n, "income": [2.0] * n, "city": ["a"] * n, "note": [None] * n}
    out.update(override)
    return out


def test_check_row_limit_is_413(served: LoadedModel) -> None:
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
def test_check_values(served: LoadedModel, n: int, override: dict[str, Any], message: str) -> None:
    with bad(message):
        check(columns(n, **override), served, MAX)


def test_check_allows_nulls_where_the_schema_does(served: LoadedModel) -> None:
    out = check(columns(2, income=[None, float("nan")], note=[None, "x"]), served, MAX)
    assert np.isnan(out["income"]).all() and out["note"] == [None, "x"]


def test_check_accepts_integers_and_large_integers(served: LoadedModel) -> None:
    out = check(columns(2, age=[1, 2**70]), served, MAX)
    assert out["age"].dtype == np.float64 and out["age"][1] == float(2**70)
