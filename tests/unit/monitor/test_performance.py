"""Live metrics agree with scikit-learn on the joined rows."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as m

from airfoil.monitor.performance import failed_bounds, live_metrics


def test_binary_metrics_are_about_the_positive_class() -> None:
    rng = np.random.default_rng(0)
    y = rng.choice(["malignant", "benign"], size=300)
    p = np.where(rng.random(300) < 0.85, y, rng.choice(["malignant", "benign"], size=300))
    got = live_metrics("classification", y, p, positive="malignant")
    assert got["accuracy"] == m.accuracy_score(y, p)
    assert got["f1"] == m.f1_score(y, p, pos_label="malignant")
    assert got["recall"] == m.recall_score(y, p, pos_label="malignant")


def test_multiclass_metrics_are_macro_averages() -> None:
    y = ["a", "b", "c", "a", "b", "c"]
    p = ["a", "b", "b", "a", "c", "c"]
    got = live_metrics("classification", y, p)
    assert got["f1"] == m.f1_score(y, p, average="macro")


def test_regression_metrics() -> None:
    y, p = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 2.5, 4.5])
    got = live_metrics("regression", y, p)
    assert got == {
        "rmse": np.sqrt(m.mean_squared_error(y, p)),
        "mae": m.mean_absolute_error(y, p),
        "r2": m.r2_score(y, p),
    }


def test_bounds() -> None:
    assert failed_bounds({"rmse": 5.0, "r2": 0.9}, {"r2": 0.8}, {"rmse": 4.0}) == [
        "live rmse 5.0000 is over monitor.max.rmse 4.0"
    ]
