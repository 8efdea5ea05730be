"""metrics.compute: binary (about the positive class), multiclass (macro/weighted), regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airfoil.steps.metrics import compute


class Fixed:
    """A fitted 'model' with given predictions and probabilities, to check the arithmetic exactly."""

    def __init__(self, classes, pred, proba=None):
        self.classes_ = np.array(classes)
        self._pred = np.array(pred)
        self._proba = None if proba is None else np.array(proba)

    def predict(self, X):
        return self._pred

    def predict_proba(self, X):
        return self._proba


X = pd.DataFrame({"x": range(4)})


def test_binary_metrics_are_about_the_positive_class(make_spec) -> None:
    y = pd.Series(["bad", "bad", "good", "good"])
    model = Fixed(
        ["bad", "good"], ["bad", "good", "good", "good"], [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.2, 0.8]]
    )
    about_bad = compute(make_spec(train={"positive_class": "bad"}), model, X, y)
    assert about_bad["precision"] == 1.0
    assert about_bad["recall"] == 0.5
    assert about_bad["accuracy"] == 0.75
    assert about_bad["roc_auc"] == 1.0
    about_good = compute(make_spec(), model, X, y)  # default: last class in sorted order
    assert about_good["precision"] == pytest.approx(2 / 3)
    assert about_good["recall"] == 1.0
    assert about_good["f1"] == pytest.approx(0.8)
    assert about_good["log_loss"] == pytest.approx(about_bad["log_loss"])
    assert about_good["log_loss"] > 0


def test_multiclass_has_macro_and_weighted(make_spec) -> None:
    y = pd.Series(["a", "a", "a", "b", "c", "c"])
    pred = ["a", "a", "b", "b", "c", "a"]
    proba = np.full((6, 3), 1 / 3)
    out = compute(make_spec(), Fixed(["a", "b", "c"], pred, proba), pd.DataFrame({"x": range(6)}), y)
    for name in ("precision", "recall", "f1"):
        assert {f"{name}_macro", f"{name}_weighted"} <= set(out)
        assert out[name] == out[f"{name}_macro"]
    assert out["recall_macro"] == pytest.approx((2 / 3 + 1 + 0.5) / 3)
    assert out["recall_weighted"] == pytest.approx(out["accuracy"]) == pytest.approx(4 / 6)
    assert out["roc_auc"] == out["roc_auc_macro"] == 0.5
    assert out["log_loss"] == pytest.approx(np.log(3))


class LabelsOnly:
    """A classifier with no predict_proba (e.g. LinearSVC)."""

    classes_ = np.array(["a", "b"])

    def predict(self, X):
        return np.array(["a", "b", "b", "b"])


def test_model_without_probabilities_has_no_probability_metrics(make_spec) -> None:
    out = compute(make_spec(), LabelsOnly(), X, pd.Series(["a", "b", "a", "b"]))
    assert out["accuracy"] == 0.75
    assert "roc_auc" not in out
    assert "log_loss" not in out


def test_regression_metrics(make_spec) -> None:
    spec = make_spec(
        task="regression", target="y", train={"candidates": [{"estimator": "sklearn.linear_model.Ridge"}]}
    )

    class Pred:
        def predict(self, X):
            return np.array([1.0, 2.0, 3.0, 6.0])

    out = compute(spec, Pred(), X, pd.Series([1.0, 2.0, 3.0, 4.0]))
    assert set(out) == {"rmse", "mae", "r2"}
    assert out["rmse"] == pytest.approx(1.0)  # sqrt(4 / 4)
    assert out["mae"] == pytest.approx(0.5)
    assert out["r2"] == pytest.approx(1 - 4 / 5)


def test_real_classifier(make_spec) -> None:
    from sklearn.linear_model import LogisticRegression

    from tests.unit.unit_support import classification_frame

    df = classification_frame(80)
    features = df[["x1", "x2"]]
    model = LogisticRegression().fit(features, df["label"])
    out = compute(make_spec(), model, features, df["label"])
    assert set(out) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    assert out["accuracy"] > 0.8
