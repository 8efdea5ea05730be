"""The inference rules of `airfoil init` on small DataFrames: what is dropped, encoded, imputed,
which task, metric, split and gate, and the rules' widened ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airfoil.errors import DataError
from airfoil.scaffold import infer, training
from airfoil.scaffold.columns import profile
from airfoil.spec.model import PipelineSpec

N = 60


def _col(values: list, name: str = "c"):
    return profile(pd.DataFrame({name: values}))[name]


@pytest.mark.parametrize(
    ("values", "name", "reason"),
    [
        (
            list(range(1, N + 1)),
            "row",
            "id-like (a different whole number in every row, in increasing order)",
        ),
        (list(np.random.default_rng(0).permutation(N) + 1000), "customer_id", "id-like (a different whole"),
        ([f"u{i:03d}" for i in range(N)], "user", "id-like (a different value in every row)"),
        (
            [f"name {i % 80}" for i in range(100)],
            "name",
            "mostly unique text (80 distinct values in 100 rows)",
        ),
        ([7] * N, "k", "constant (every row with a value holds 7)"),
        (["x"] * (N - 5) + [None] * 5, "k", "constant (every row with a value holds 'x')"),
        ([None] * N, "k", "empty (no value in 60 rows)"),
        ([f"2024-01-{i % 28 + 1:02d}" for i in range(N)], "day", "dates, not a model input"),
    ],
)
def test_dropped_columns_are_named_with_the_reason(values: list, name: str, reason: str) -> None:
    got = infer.drop_reason(_col(values, name))
    assert got is not None and got.startswith(reason)


@pytest.mark.parametrize(
    "values",
    [
        list(np.random.default_rng(0).permutation(N)),  # all different, not in order, not named like an id
        list(np.linspace(0, 1, N)),  # measurements
        ["a", "b", "c"] * 20,  # a category
        [True, False] * 30,
        [f"name {i % 25}" for i in range(N)],  # 25 distinct of 60: kept (ordinal)
    ],
)
def test_features_are_kept(values: list) -> None:
    assert infer.drop_reason(_col(values, "value")) is None


def test_kinds_follow_what_validate_checks() -> None:
    df = pd.DataFrame(
        {
            "f": [0.5, 1.5, None],
            "i": [1.0, 2.0, None],  # whole numbers with a gap: integer
            "s": ["a", "b", "a"],
            "b": [True, False, True],
            "d": ["2020/01/01", "2020/01/02", None],
            "t": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]),
            "n": ["1-a", "2-b", "3-c"],  # a dash is not a date
        }
    )
    kinds = {k: c.kind for k, c in profile(df).items()}
    assert kinds == {
        "f": "number",
        "i": "integer",
        "s": "string",
        "b": "boolean",
        "d": "datetime",
        "t": "datetime",
        "n": "string",
    }


@pytest.mark.parametrize(
    ("values", "forced", "task", "why"),
    [
        (["yes", "no"] * 30, None, "classification", "holds string labels"),
        ([0, 1, 2] * 20, None, "classification", "only 3 distinct whole numbers"),
        ([True, False] * 30, None, "classification", "holds boolean labels"),
        (list(np.linspace(0, 10, N)), None, "regression", "holds numbers (60 distinct values, 0 to 10)"),
        (list(range(N)), None, "regression", "holds numbers"),  # many whole numbers: an amount
        ([0, 1, 2] * 20, "regression", "regression", "as --task says"),
    ],
)
def test_task_from_the_target(values: list, forced: str | None, task: str, why: str) -> None:
    got, reasons = infer.task_of(_col(values, "y"), forced)
    assert got == task and why in reasons[0]


def test_prepare_imputes_encodes_and_scales_what_the_data_needs() -> None:
    df = pd.DataFrame(
        {
            "num": [1.0, None, 3.0, 4.0] * 10,
            "cat": ["a", "b", None, "a"] * 10,
            "full": [1, 2, 3, 4] * 10,
        }
    )
    cols = list(profile(df).values())
    out, why = infer.prepare(cols, [("id", "id-like (a different value in every row)")])
    assert out == {
        "drop_columns": ["id"],
        "impute": {"numeric": "median", "categorical": "most_frequent"},
        "encode": "onehot",
        "scale": "standard",
    }
    assert why[0] == "drop id: id-like (a different value in every row)"
    assert any("num (25.0%), cat (25.0%)" in w for w in why)
    wide = profile(pd.DataFrame({"cat": [f"c{i % 30}" for i in range(90)]}))["cat"]
    out, why = infer.prepare([wide], [])
    assert out == {"encode": "ordinal", "scale": "none"} and "30 categories" in why[0]


def test_rules_widen_the_range_and_list_few_values() -> None:
    df = pd.DataFrame(
        {
            "x": [6.981, 28.11, 10.0, 12.5],
            "count": [0, 3, 5, 9],
            "neg": [-3.5, 2.0, 0.0, 1.0],
            "s": ["a", "b", None, "a"],
        }
    )
    cols = profile(df)
    assert infer.rule(cols["x"]) == {"type": "number", "min": 4, "max": 31, "nullable": False}
    assert infer.rule(cols["count"]) == {"type": "integer", "min": 0, "max": 10, "nullable": False}
    assert infer.rule(cols["neg"]) == {"type": "number", "min": -4.1, "max": 2.6, "nullable": False}
    assert infer.rule(cols["s"]) == {"type": "string", "allowed": ["a", "b"]}
    rules, _ = infer.validate(list(cols.values()))
    assert rules["max_null_fraction"] == 0.3  # 25% missing in s, plus 5 points


@pytest.mark.parametrize(
    ("counts", "metric", "positive"),
    [
        ({"benign": 357, "malignant": 212}, "f1", "malignant"),  # imbalanced binary: f1 of the rare class
        ({0: 50, 1: 45}, "accuracy", 1),  # balanced binary
        ({0.0: 80, 1.0: 20}, "f1", "1.0"),  # float classes: written as the text the model's classes show
        ({"a": 30, "b": 30, "c": 28}, "accuracy", None),  # balanced multiclass
        ({"sun": 640, "rain": 641, "fog": 101, "drizzle": 53, "snow": 26}, "f1", None),  # macro f1
    ],
)
def test_metric_suits_the_classes(counts: dict, metric: str, positive: object) -> None:
    out, _ = training.train("classification", sum(counts.values()), counts)
    assert out["metric"] == metric and out.get("positive_class") == positive
    assert out["cv"] == 3 and len(out["candidates"]) == 2


@pytest.mark.parametrize(
    ("task", "rows", "ensemble"),
    [
        ("classification", 500, "RandomForestClassifier"),
        ("classification", 50_000, "HistGradientBoostingClassifier"),
        ("regression", 500, "RandomForestRegressor"),
        ("regression", 50_000, "HistGradientBoostingRegressor"),
    ],
)
def test_candidates_fit_the_data_size(task: str, rows: int, ensemble: str) -> None:
    counts = {"a": rows // 2, "b": rows - rows // 2} if task == "classification" else None
    out, _ = training.train(task, rows, counts)
    linear, trees = out["candidates"]
    assert linear["estimator"].startswith("sklearn.linear_model.")
    assert trees["estimator"].endswith(ensemble)


def test_split_stratified_random_or_by_time() -> None:
    assert training.split("classification", None)[0]["stratify"] is True
    assert "stratify" not in training.split("regression", None)[0]
    assert training.split("classification", "day")[0] == {"by": "day", "test_size": 0.2}


def test_time_column_from_option_or_the_date_column() -> None:
    df = pd.DataFrame(
        {
            "when": [f"2024-01-{i + 1:02d}" for i in range(20)],
            "year": [2000 + i for i in range(20)],
            "y": [1, 2] * 10,
        }
    )
    cols = profile(df)
    assert infer.time_column(cols, "y", None)[0] == "when"
    assert infer.time_column(cols, "y", "year")[0] == "year"  # ordered numbers are time too
    assert infer.time_column(profile(df[["year", "y"]]), "y", None) == (None, [])


def _spec(task: str, split: dict, train: dict) -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "name": "t",
            "task": task,
            "source": {"path": "x.csv"},
            "target": "y",
            "split": split,
            "train": train,
        }
    )


def test_gate_is_above_what_a_constant_answer_scores() -> None:
    df = pd.DataFrame({"x": range(100), "y": ["a"] * 70 + ["b"] * 30})
    train, _ = training.train("classification", 100, {"a": 70, "b": 30})
    gate, why = training.gate(_spec("classification", {"stratify": True, "test_size": 0.2}, train), df)
    # always "a": accuracy 0.7 on the stratified test rows; always "b": f1 2*0.3/1.3 = 0.4615
    assert gate["min"] == {"accuracy": 0.73, "f1": 0.516}
    assert "always answering 'a' scores 0.700" in why[0]


def test_regression_gate_beats_the_mean() -> None:
    y = np.arange(100, dtype=float)
    df = pd.DataFrame({"x": y, "y": y})
    train, _ = training.train("regression", 100, None)
    gate, why = training.gate(_spec("regression", {"by": "x", "test_size": 0.2}, train), df)
    # train mean 39.5; test rows 80..99: rmse of the mean = sqrt(mean((80..99 - 39.5)^2)) = 50.27
    assert gate["max"] == {"rmse": 45.2} and gate["min"] == {"r2": 0.1}
    assert "training mean (39.5)" in why[0]


def test_close_names_are_suggested() -> None:
    with pytest.raises(
        DataError, match=r"--target 'diagnosys' is not a column of the data; did you mean 'diagnosis'\?"
    ):
        infer.require_column("diagnosys", ["id", "diagnosis"], "--target")
