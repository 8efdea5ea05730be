"""train.tune: cross-validated search over one candidate; the saved model loads and predicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airfoil.artifacts import io, modelfile
from airfoil.errors import DataError
from airfoil.steps.model import feature_frame
from airfoil.steps.train import search, tune
from tests.unit.unit_support import classification_frame, regression_frame


def _dataset(ctx, train: pd.DataFrame) -> dict:
    return {"train": io.write_parquet(train, ctx.uri("train.parquet")), "fingerprint": "x"}


def _tune(make_spec, make_ctx, df: pd.DataFrame, candidate: int = 0, **overrides) -> dict:
    spec = make_spec(**overrides)
    ctx = make_ctx(spec, task_id="tune")
    return tune(ctx, _dataset(ctx, df), candidate)


def test_tune_classification(make_spec, make_ctx) -> None:
    df = classification_frame(60)
    out = _tune(make_spec, make_ctx, df)
    assert out["metric"] == "f1"
    assert 0.5 < out["cv_score"] <= 1.0
    assert out["rank_score"] == out["cv_score"]
    assert out["best_params"]["C"] in (0.1, 1.0)
    assert len(out["cv_folds"]) == 3
    assert len(out["search"]) == 2
    assert len(out["model"]["sha256"]) == 64
    model = modelfile.load(out["model"])
    assert set(model.predict(feature_frame(df, make_spec()))) <= {"yes", "no"}


def test_tune_regression_reports_rmse_positive(make_spec, make_ctx) -> None:
    out = _tune(
        make_spec,
        make_ctx,
        regression_frame(60),
        task="regression",
        target="y",
        train={"candidates": [{"estimator": "sklearn.linear_model.Ridge", "params": {"alpha": [0.1, 10.0]}}]},
    )
    assert out["metric"] == "rmse"
    assert 0 < out["cv_score"] < 1.0  # the noise is small; rmse is reported positive
    assert out["rank_score"] == -out["cv_score"]  # lower is better, so ranking flips the sign
    assert out["best_params"] == {"alpha": 0.1}


def test_random_search_samples_n_iter_settings(make_spec, make_ctx) -> None:
    train = {
        "search": "random",
        "n_iter": 2,
        "candidates": [
            {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": [0.01, 0.1, 1, 10]}}
        ],
    }
    out = _tune(make_spec, make_ctx, classification_frame(60), train=train)
    assert len(out["search"]) == 2


def test_unknown_param_lists_valid_params(make_spec, make_ctx) -> None:
    train = {"candidates": [{"estimator": "sklearn.linear_model.LogisticRegression", "params": {"c": [1.0]}}]}
    with pytest.raises(DataError) as info:
        _tune(make_spec, make_ctx, classification_frame(30), train=train)
    message = str(info.value)
    assert "LogisticRegression has no parameter(s) ['c']" in message
    assert "'C'" in message
    assert "'max_iter'" in message


def test_cv_larger_than_rarest_class(make_spec, make_ctx) -> None:
    df = pd.DataFrame({"x1": np.arange(20.0), "label": ["a"] * 18 + ["b"] * 2})
    with pytest.raises(DataError, match=r"train\.cv = 3 but the rarest class has only 2 training rows"):
        _tune(make_spec, make_ctx, df)


def test_bad_param_value_is_a_data_error(make_spec, make_ctx) -> None:
    train = {
        "candidates": [{"estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": [-1.0]}}]
    }
    with pytest.raises(DataError, match=r"training sklearn\.linear_model\.LogisticRegression failed"):
        _tune(make_spec, make_ctx, classification_frame(30), train=train)


def test_search_is_tune_without_the_file(make_spec, make_ctx) -> None:
    spec = make_spec()
    ctx = make_ctx(spec, task_id="tune")
    df = classification_frame(60)
    tuned = tune(ctx, {"train": io.write_parquet(df, ctx.uri("train.parquet"))}, 0)
    model, summary = search(spec, 0, feature_frame(df, spec), df[spec.target])
    assert {k: v for k, v in tuned.items() if k not in ("model", "fit_seconds")} == {
        k: v for k, v in summary.items() if k != "fit_seconds"
    }
    assert list(tuned) == [*summary, "model"]
    assert hasattr(model, "predict")
