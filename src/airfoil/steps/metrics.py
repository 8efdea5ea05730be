"""Test-set metrics: classification (binary or macro/weighted multiclass) and regression."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from airfoil.spec.model import PipelineSpec
from airfoil.steps.model import positive_class


@dataclass(frozen=True)
class Predictions:
    """A model's answers on a test set, computed once and shared by metrics, plots and diagnostics."""

    pred: Any
    proba: Any | None  # class probabilities (a classifier with predict_proba), else None


def predict(spec: PipelineSpec, model: Any, X: Any) -> Predictions:
    """`model.predict(X)`, and `predict_proba(X)` for a classifier that has it."""
    proba = None
    if spec.task == "classification" and hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
    return Predictions(model.predict(X), proba)


def compute(
    spec: PipelineSpec, model: Any, X: Any, y: Any, predictions: Predictions | None = None
) -> dict[str, float]:
    """Every metric of the task, on (X, y) (`predictions`: the model's on X, when already made)."""
    import numpy as np
    from sklearn import metrics as m

    p = predictions if predictions is not None else predict(spec, model, X)
    pred = p.pred
    if spec.task == "regression":
        return {
            "rmse": float(np.sqrt(m.mean_squared_error(y, pred))),
            "mae": float(m.mean_absolute_error(y, pred)),
            "r2": float(m.r2_score(y, pred)),
        }
    classes = list(model.classes_)
    out = {"accuracy": float(m.accuracy_score(y, pred))}
    proba = p.proba
    if len(classes) == 2:
        pos = positive_class(spec, classes)
        for name, fn in (("precision", m.precision_score), ("recall", m.recall_score), ("f1", m.f1_score)):
            out[name] = float(fn(y, pred, pos_label=pos, zero_division=0))
        if proba is not None:
            out["roc_auc"] = float(m.roc_auc_score(y == pos, proba[:, classes.index(pos)]))
    else:
        for name, fn in (("precision", m.precision_score), ("recall", m.recall_score), ("f1", m.f1_score)):
            for avg in ("macro", "weighted"):
                out[f"{name}_{avg}"] = float(fn(y, pred, average=avg, zero_division=0))
            out[name] = out[f"{name}_macro"]
        if proba is not None and set(np.unique(y)) <= set(classes) and len(np.unique(y)) > 1:
            for avg in ("macro", "weighted"):
                with contextlib.suppress(ValueError):  # a class absent from the test set
                    out[f"roc_auc_{avg}"] = float(
                        m.roc_auc_score(y, proba, multi_class="ovr", average=avg, labels=classes)
                    )
            if "roc_auc_macro" in out:
                out["roc_auc"] = out["roc_auc_macro"]
    if proba is not None:
        out["log_loss"] = float(m.log_loss(y, proba, labels=classes))
    # A metric that is undefined on this test set (e.g. a class never seen) is left out, not NaN.
    return {k: v for k, v in out.items() if np.isfinite(v)}
