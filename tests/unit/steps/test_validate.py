"""validate: every broken rule is reported at once, the report is written, training never starts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airfoil.artifacts import io
from airfoil.errors import DataValidationError
from airfoil.steps.validate import validate


def _run(make_spec, make_ctx, df: pd.DataFrame, rules: dict):
    spec = make_spec(validate=rules)
    ctx = make_ctx(spec, task_id="validate")
    return ctx, validate(ctx, io.write_parquet(df, ctx.uri("extracted.parquet")))


def _failures(make_spec, make_ctx, df: pd.DataFrame, rules: dict) -> list[str]:
    with pytest.raises(DataValidationError) as info:
        _run(make_spec, make_ctx, df, rules)
    return info.value.failures


def test_passing_data_writes_a_passing_report(make_spec, make_ctx) -> None:
    df = pd.DataFrame({"age": [1, 50, 99], "label": ["a", "b", "a"]})
    rules = {"columns": {"age": {"type": "integer", "min": 0, "max": 120, "nullable": False}}}
    _, out = _run(make_spec, make_ctx, df, rules)
    assert out["passed"] is True
    assert out["rows"] == 3
    assert io.read_json(out["report_uri"]) == {"failures": [], "passed": True, "rows": 3}


def test_every_failed_rule_is_reported_at_once(make_spec, make_ctx) -> None:
    df = pd.DataFrame(
        {
            "age": [-1.0, 30.0, 150.0, 40.0, np.nan],
            "color": ["red", "blue", "purple", "red", "red"],
            "count": ["1", "2", "x", "4", "5"],
            "score": [1.0, np.nan, np.nan, np.nan, 2.0],
            "label": ["a", "b", "a", "b", "a"],
        }
    )
    rules = {
        "columns": {
            "age": {"min": 0, "max": 120, "nullable": False},
            "color": {"allowed": ["red", "blue"]},
            "count": {"type": "number"},
            "missing_col": {},
        },
        "max_null_fraction": 0.5,
        "min_rows": 10,
    }
    failures = _failures(make_spec, make_ctx, df, rules)
    expected = [
        "5 rows, fewer than validate.min_rows = 10",
        "column 'age': 1 missing value(s) but nullable is false",
        "column 'age': 1 value(s) below min 0 (lowest -1)",
        "column 'age': 1 value(s) above max 120 (highest 150)",
        "column 'color': 1 value(s) not in allowed ['red', 'blue'], e.g. ['purple']",
        "column 'count': expected number, 1 value(s) are not numbers, e.g. 'x'",
        "column 'missing_col' is declared in validate.columns but missing from the data",
        "column 'score': 60.0% missing values, more than validate.max_null_fraction = 50.0%",
    ]
    assert sorted(failures) == sorted(expected)


def test_failure_writes_the_report_and_names_it(make_spec, make_ctx) -> None:
    df = pd.DataFrame({"age": [-5, 3], "label": ["a", "b"]})
    spec = make_spec(validate={"columns": {"age": {"min": 0}}})
    ctx = make_ctx(spec, task_id="validate")
    with pytest.raises(DataValidationError) as info:
        validate(ctx, io.write_parquet(df, ctx.uri("extracted.parquet")))
    uri = ctx.uri("validation_report.json")
    assert info.value.report_uri == uri
    assert f"Full report: {uri}" in str(info.value)
    assert "failed 1 validation rule(s); training did not start" in str(info.value)
    report = io.read_json(uri)
    assert report["passed"] is False
    assert report["failures"] == info.value.failures


@pytest.mark.parametrize(
    ("values", "rule", "message"),
    [
        ([1.5, 2.0, 3.0], {"type": "integer"}, "expected integer, some values have a fractional part"),
        ([1, 2, 3], {"type": "string"}, "expected string, the column holds int64"),
        (["yes", "no", "yes"], {"type": "boolean"}, "expected boolean, some values are not true/false"),
        (
            ["2024-01-01", "soon", "2024-02-01"],
            {"type": "datetime"},
            "expected datetime, 1 value(s) are not dates",
        ),
        (["a", "b", "c"], {"min": 0}, "min/max declared but 3 value(s) are not numbers"),
    ],
)
def test_type_rules(make_spec, make_ctx, values, rule, message) -> None:
    df = pd.DataFrame({"col": values, "label": ["a", "b", "a"]})
    failures = _failures(make_spec, make_ctx, df, {"columns": {"col": rule}})
    assert len(failures) == 1
    assert failures[0].startswith(f"column 'col': {message}")


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([1.0, 2.0, 3.0], "integer"),
        (["x", "y", "z"], "string"),
        ([True, False, True], "boolean"),
        ([0, 1, 1], "boolean"),
        (["2024-01-01", "2024-02-01", "2024-03-01"], "datetime"),
        ([1, 2.5, None], "number"),
    ],
)
def test_type_rules_that_pass(make_spec, make_ctx, values, kind) -> None:
    df = pd.DataFrame({"col": values, "label": ["a", "b", "a"]})
    _, out = _run(make_spec, make_ctx, df, {"columns": {"col": {"type": kind}}})
    assert out["passed"] is True


def test_nulls_allowed_by_default(make_spec, make_ctx) -> None:
    df = pd.DataFrame({"col": [1.0, None, 3.0], "label": ["a", "b", "a"]})
    _, out = _run(make_spec, make_ctx, df, {"columns": {"col": {"min": 0}}})
    assert out["passed"] is True
