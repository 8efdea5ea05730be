"""Live performance: the spec's metrics on scored rows whose true value has arrived."""

from __future__ import annotations

from typing import Any

import numpy as np


def live_metrics(task: str, truth: Any, predicted: Any, positive: str | None = None) -> dict[str, float]:
    """classification: accuracy, precision, recall, f1 (binary about `positive`, else macro);
    regression: rmse, mae, r2. Classification compares labels as text, as the store keeps them."""
    from sklearn import metrics as m

    if task == "regression":
        y = np.asarray(truth, dtype=np.float64)
        p = np.asarray(predicted, dtype=np.float64)
        out = {
            "rmse": float(np.sqrt(m.mean_squared_error(y, p))),
            "mae": float(m.mean_absolute_error(y, p)),
            "r2": float(m.r2_score(y, p)) if len(y) > 1 else float("nan"),
        }
    else:
        y = np.asarray(truth, dtype=object).astype(str)
        p = np.asarray(predicted, dtype=object).astype(str)
        kwargs: dict[str, Any] = {"zero_division": 0}
        if positive is not None:
            kwargs |= {"pos_label": positive, "average": "binary"}
        else:
            kwargs["average"] = "macro"
        out = {
            "accuracy": float(m.accuracy_score(y, p)),
            "precision": float(m.precision_score(y, p, **kwargs)),
            "recall": float(m.recall_score(y, p, **kwargs)),
            "f1": float(m.f1_score(y, p, **kwargs)),
        }
    return {k: v for k, v in out.items() if np.isfinite(v)}


def failed_bounds(metrics: dict[str, float], low: dict[str, float], high: dict[str, float]) -> list[str]:
    """Why the live metrics fail `monitor.min` / `monitor.max` (empty: they pass)."""
    out = [
        f"live {k} {metrics[k]:.4f} is under monitor.min.{k} {v}"
        for k, v in low.items()
        if k in metrics and metrics[k] < v
    ]
    out += [
        f"live {k} {metrics[k]:.4f} is over monitor.max.{k} {v}"
        for k, v in high.items()
        if k in metrics and metrics[k] > v
    ]
    return out
