"""What the model report draws, computed once at training on the test split and stored with the version:
the confusion matrix, ROC and precision-recall curves (classification) or residuals (regression), and
permutation importance of every input column in the selection metric."""

from __future__ import annotations

from typing import Any

from airfoil.spec.model import PipelineSpec
from airfoil.steps.metrics import Predictions, predict
from airfoil.steps.model import positive_class, scorer

CURVE_POINTS = 200  # a curve keeps at most this many points: enough to draw, small to store
RESIDUAL_POINTS = 500  # residuals: a uniform sample of the test rows
IMPORTANCE_ROWS = 2000  # permutation importance on at most this many test rows
IMPORTANCE_REPEATS = 5


def diagnostics(
    spec: PipelineSpec,
    model: Any,
    X: Any,
    y: Any,
    predictions: Predictions | None = None,
    *,
    ranked: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report's data for one fitted model on the test split (X, y) (`predictions`: the model's on
    X, `ranked`: its `importance`, when already computed)."""
    p = predictions if predictions is not None else predict(spec, model, X)
    out: dict[str, Any] = {"task": spec.task, "rows": len(X), "metric": spec.metric}
    if spec.task == "classification":
        out.update(_classification(spec, model, y, p))
    else:
        out.update(_regression(spec, y, p))
    out["importance"] = ranked if ranked is not None else importance(spec, model, X, y)
    return out


def importance(spec: PipelineSpec, model: Any, X: Any, y: Any) -> dict[str, Any]:
    """Permutation importance per input column: how much the selection metric drops when the column is
    shuffled (mean and std over repeats; in the metric's units, higher-is-better sign)."""
    from sklearn.inspection import permutation_importance

    classes = list(getattr(model, "classes_", [])) or None
    rows = min(1.0, IMPORTANCE_ROWS / max(len(X), 1))
    result = permutation_importance(
        model,
        X,
        y,
        scoring=scorer(spec, classes),
        n_repeats=IMPORTANCE_REPEATS,
        random_state=spec.split.seed,
        max_samples=rows,
        # Columns in parallel on the train step's worker pool (still warm from CV); every column
        # uses the same seed drawn once, so the result does not depend on n_jobs.
        n_jobs=spec.train.n_jobs,
    )
    ranked = sorted(
        zip(X.columns, result.importances_mean, result.importances_std, strict=True), key=lambda t: -t[1]
    )
    features = [{"feature": str(c), "mean": float(m), "std": float(s)} for c, m, s in ranked]
    return {
        "metric": spec.metric,
        "repeats": IMPORTANCE_REPEATS,
        "rows": round(rows * len(X)),
        "features": features,
    }


def _classification(spec: PipelineSpec, model: Any, y: Any, p: Predictions) -> dict[str, Any]:
    import numpy as np
    from sklearn import metrics as m

    classes = list(model.classes_)
    pred = p.pred
    matrix = m.confusion_matrix(y, pred, labels=classes)
    out: dict[str, Any] = {
        "classes": [_plain(c) for c in classes],
        "confusion": matrix.tolist(),
        "roc": [],
        "pr": [],
    }
    if p.proba is None:
        return out
    proba = p.proba
    targets = [positive_class(spec, classes)] if len(classes) == 2 else classes
    truth = np.asarray(y)
    for c in targets:
        hit = truth == c
        if not hit.any() or hit.all():
            continue  # a curve needs both outcomes in the test set
        score = proba[:, classes.index(c)]
        fpr, tpr, _ = m.roc_curve(hit, score)
        precision, recall, _ = m.precision_recall_curve(hit, score)
        label = _plain(c)
        out["roc"].append(
            {"class": label, "auc": float(m.auc(fpr, tpr)), **_thin(x=fpr.tolist(), y=tpr.tolist())}
        )
        out["pr"].append(
            {
                "class": label,
                "average_precision": float(m.average_precision_score(hit, score)),
                "prevalence": float(hit.mean()),
                **_thin(x=recall[::-1].tolist(), y=precision[::-1].tolist()),
            }
        )
    return out


def _regression(spec: PipelineSpec, y: Any, p: Predictions) -> dict[str, Any]:
    import numpy as np

    pred = np.asarray(p.pred, dtype=float)
    actual = np.asarray(y, dtype=float)
    rng = np.random.default_rng(spec.split.seed)
    keep = np.sort(rng.choice(len(pred), size=min(RESIDUAL_POINTS, len(pred)), replace=False))
    residual = actual - pred
    counts, edges = np.histogram(residual, bins=30)
    return {
        "residuals": {
            "predicted": pred[keep].round(6).tolist(),
            "actual": actual[keep].round(6).tolist(),
            "histogram": {"counts": counts.tolist(), "edges": edges.round(6).tolist()},
            "mean": float(residual.mean()),
            "std": float(residual.std()),
        }
    }


def _thin(x: list[float], y: list[float]) -> dict[str, list[float]]:
    """At most CURVE_POINTS points of a curve, first and last kept."""
    n = len(x)
    if n > CURVE_POINTS:
        step = (n - 1) / (CURVE_POINTS - 1)
        idx = sorted({round(i * step) for i in range(CURVE_POINTS)})
        x, y = [x[i] for i in idx], [y[i] for i in idx]
    return {"x": [round(v, 5) for v in x], "y": [round(v, 5) for v in y]}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
