"""`split`, `train` and `gate` for an inferred spec: the split, a small candidate set, the metric
that suits the classes, and gate thresholds measured on a baseline that learns nothing."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from airfoil.errors import DataError
from airfoil.scaffold.infer import LARGE, Why

if TYPE_CHECKING:
    import pandas as pd

    from airfoil.spec.model import PipelineSpec

SEED = 42
CV = 3
GAP = 0.1  # a model must close this share of the gap between the baseline and a perfect score
_Candidates = dict[str, list[tuple[str, dict[str, list[Any]]]]]
_SMALL: _Candidates = {
    "classification": [
        ("sklearn.linear_model.LogisticRegression", {"C": [0.1, 1.0], "max_iter": [1000]}),
        ("sklearn.ensemble.RandomForestClassifier", {"n_estimators": [100], "min_samples_leaf": [1, 5]}),
    ],
    "regression": [
        ("sklearn.linear_model.Ridge", {"alpha": [0.1, 1.0, 10.0]}),
        ("sklearn.ensemble.RandomForestRegressor", {"n_estimators": [100], "min_samples_leaf": [1, 5]}),
    ],
}
_LARGE: _Candidates = {
    "classification": [
        ("sklearn.linear_model.LogisticRegression", {"C": [1.0], "max_iter": [1000]}),
        ("sklearn.ensemble.HistGradientBoostingClassifier", {"max_iter": [200], "learning_rate": [0.1]}),
    ],
    "regression": [
        ("sklearn.linear_model.Ridge", {"alpha": [1.0]}),
        ("sklearn.ensemble.HistGradientBoostingRegressor", {"max_iter": [200], "learning_rate": [0.1]}),
    ],
}


def split(task: str, time: str | None) -> tuple[dict[str, Any], Why]:
    if time is not None:
        return {"by": time, "test_size": 0.2}, [f"split: the latest 20% of rows by {time} are the test set"]
    if task == "classification":
        return {"test_size": 0.2, "stratify": True, "seed": SEED}, [
            "split: 20% of rows for the test set, stratified: every class in the same proportion"
        ]
    return {"test_size": 0.2, "seed": SEED}, ["split: 20% of rows, drawn at random, for the test set"]


def train(task: str, rows: int, counts: dict[Any, int] | None) -> tuple[dict[str, Any], Why]:
    """Two candidates (a linear model and a tree ensemble that ONNX serves), few settings, 3 folds."""
    large = rows >= LARGE
    chosen = (_LARGE if large else _SMALL)[task]
    out: dict[str, Any] = {}
    why: Why = []
    if task == "regression":
        out["metric"] = "rmse"
        why.append("metric rmse: the typical error, in the target's own unit")
    else:
        assert counts is not None
        metric, positive, reason = _class_metric(counts)
        out["metric"] = metric
        if positive is not None:
            out["positive_class"] = positive
        why += reason
    out["cv"] = CV
    out["candidates"] = [{"estimator": e, "params": p} for e, p in chosen]
    ensemble = chosen[1][0].rsplit(".", 1)[-1]
    why.append(
        f"candidates: a linear model and {ensemble} ({'many' if large else 'few'} rows: {rows:,}; "
        f"{'fast on large data' if large else 'robust on small data'}), both served by ONNX; "
        f"{CV}-fold cross-validation over a few settings keeps the first run quick"
    )
    return out, why


def _class_metric(counts: dict[Any, int]) -> tuple[str, Any, Why]:
    total = sum(counts.values())
    shares = {c: n / total for c, n in counts.items()}
    rarest = min(shares, key=lambda c: (shares[c], str(c)))
    if len(counts) == 2:
        positive = rarest
        written = str(positive) if isinstance(positive, float) else positive
        why = [
            f"positive_class {positive!r}: the rarer class ({shares[positive]:.1%}), usually the one to find"
        ]
        if shares[rarest] < 0.4:
            return (
                "f1",
                written,
                [
                    *why,
                    f"metric f1 (of {positive!r}): the classes are imbalanced, accuracy would flatter "
                    "a model that ignores the rare class",
                ],
            )
        return "accuracy", written, [*why, "metric accuracy: the two classes are balanced"]
    if shares[rarest] < 0.5 / len(counts):
        return (
            "f1",
            None,
            [
                f"metric f1 (macro: every class counts the same): {len(counts)} imbalanced classes, the "
                f"rarest {rarest!r} is {shares[rarest]:.1%} of rows"
            ],
        )
    return "accuracy", None, [f"metric accuracy: {len(counts)} classes of similar size"]


def gate(spec: PipelineSpec, df: pd.DataFrame) -> tuple[dict[str, Any], Why]:
    """Thresholds just above what a model that learns nothing scores on the same test rows."""
    from airfoil.steps.prepare import split_frame

    labelled = df[df[spec.target].notna()].reset_index(drop=True)
    train_rows, test_rows = split_frame(labelled, spec)
    if train_rows.empty or test_rows.empty:
        raise DataError("the split leaves no test rows; use more data")
    if spec.task == "regression":
        return _regression_gate(spec, train_rows[spec.target], test_rows[spec.target])
    smallest = train_rows[spec.target].value_counts().min()
    if smallest < spec.train.cv:
        raise DataError(
            f"after the split by {spec.split.by}, a class has only {smallest} training rows, fewer than "
            f"the {spec.train.cv} cross-validation folds; use more data or no --time"
        )
    classes = sorted(labelled[spec.target].unique().tolist(), key=str)
    return _classification_gate(spec, labelled[spec.target], test_rows[spec.target], classes)


def _baseline(spec: PipelineSpec, dummy: Any, fit_y: pd.Series, test_y: pd.Series) -> dict[str, float]:
    """The metrics the gate will check (`steps.metrics.compute`), of a scikit-learn dummy model."""
    import numpy as np

    from airfoil.steps.metrics import compute

    dummy.fit(np.zeros((len(fit_y), 1)), fit_y)
    return compute(spec, dummy, np.zeros((len(test_y), 1)), test_y)


def _classification_gate(
    spec: PipelineSpec, labelled: pd.Series, y: pd.Series, classes: list[Any]
) -> tuple[dict[str, Any], Why]:
    from sklearn.dummy import DummyClassifier

    scores: dict[str, dict[Any, float]] = {"accuracy": {}, "f1": {}}
    for c in classes:  # always answering c
        metrics = _baseline(spec, DummyClassifier(strategy="constant", constant=[c]), labelled, y)
        for metric, by_class in scores.items():
            by_class[c] = metrics[metric]
    bounds: dict[str, float] = {}
    why: Why = []
    for metric in dict.fromkeys(("accuracy", spec.metric)):
        best = max(scores[metric], key=lambda c: scores[metric][c])
        bounds[metric] = _up(scores[metric][best] + GAP * (1 - scores[metric][best]))
        why.append(
            f"gate {metric} >= {bounds[metric]:g}: always answering {best!r} scores "
            f"{scores[metric][best]:.3f} on the test rows; a model must close {GAP:.0%} of the gap to 1"
        )
    return {"min": bounds, "beat_champion_by": 0.0}, why


def _regression_gate(spec: PipelineSpec, train_y: pd.Series, test_y: pd.Series) -> tuple[dict[str, Any], Why]:
    from sklearn.dummy import DummyRegressor

    mean = float(train_y.mean())
    rmse = _baseline(spec, DummyRegressor(strategy="mean"), train_y, test_y)["rmse"]
    limit = _down(rmse * (1 - GAP))
    return {"min": {"r2": GAP}, "max": {"rmse": limit}, "beat_champion_by": 0.0}, [
        f"gate rmse <= {limit:g}: always answering the training mean ({mean:.4g}) scores rmse "
        f"{rmse:.4g} on the test rows; a model must do {GAP:.0%} better",
        f"gate r2 >= {GAP:g}: the mean scores about 0; a model must explain some of the variance",
    ]


def _up(x: float) -> float:
    return min(math.ceil(x * 1000) / 1000, 0.999)


def _down(x: float) -> float:
    digits = 2 - math.floor(math.log10(abs(x))) if x else 0
    return math.floor(x * 10**digits) / 10**digits
