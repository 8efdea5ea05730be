"""One monitor run's verdict: every column's drift, the predictions', live metrics, and the alert.

`check` is pure: it takes the reference, the window's merged profile and the spec, and returns the
JSON that `airfoil monitor --json`, the API and the store share.
"""

from __future__ import annotations

from typing import Any

from airfoil.errors import DataError
from airfoil.monitor.drift import column_drift, decide
from airfoil.monitor.performance import failed_bounds
from airfoil.monitor.profile import Profile
from airfoil.monitor.reference import Reference, empty_like
from airfoil.spec.monitor import Monitor


def check(
    reference: Reference,
    current: Profile | None,
    spec: Monitor,
    metrics: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Drift per feature and of the predictions, dataset drift, live metrics (from labels, if any
    arrived), and why to alert. A window under `monitor.drift.min_rows` rows is described, not judged."""
    drift = spec.drift
    unknown = sorted(set(drift.features) - set(reference.bins))
    if unknown:
        raise DataError(
            f"monitor.drift.features: {unknown} are not inputs of the model; "
            f"its inputs are {sorted(reference.bins)}"
        )
    current = current if current is not None else empty_like(reference)
    ref = reference.profile
    features = [
        column_drift(b, ref.columns[name], current.columns[name], drift.features.get(name, drift))
        for name, b in reference.bins.items()
    ]
    decide(features, drift.correction)
    assert ref.prediction is not None and current.prediction is not None
    prediction = column_drift(reference.prediction_bins, ref.prediction, current.prediction, drift)
    decide([prediction], "none")
    drifted = [f.name for f in features if f.drifted]
    share = len(drifted) / len(features) if features else 0.0
    reasons = []
    if len(drifted) >= drift.alert_features:
        reasons.append(f"{len(drifted)} of {len(features)} features drift: {', '.join(drifted)}")
    if drift.predictions and prediction.drifted:
        reasons.append(f"the predictions drift ({prediction.test} {prediction.statistic:.3g})")
    if current.rows < drift.min_rows:
        for f in [*features, prediction]:
            f.drifted = False
        drifted, share, reasons = [], 0.0, []
    drift_alert = bool(reasons)
    if metrics:
        reasons += failed_bounds(metrics, spec.min, spec.max)
    return {
        "rows": current.rows,
        "rejected": current.rejected,
        "reference_rows": ref.rows,
        "features": [f.to_json() for f in features],
        "drifted_features": drifted,
        "dataset_drift": share >= drift.drift_share,
        "drift_share": round(share, 6),
        "prediction_drift": prediction.to_json(),
        "performance": metrics or None,
        "decided": current.rows >= drift.min_rows,
        "alert": bool(reasons),
        "reasons": reasons,
        "retrain_triggered": drift_alert and spec.retrain_on_drift,
    }


def no_rows() -> dict[str, Any]:
    """The verdict of a window with no scored rows: nothing drifts, nothing alerts."""
    return {
        "rows": 0,
        "features": [],
        "drifted_features": [],
        "dataset_drift": False,
        "drift_share": 0.0,
        "prediction_drift": None,
        "performance": None,
        "alert": False,
        "reasons": [],
        "retrain_triggered": False,
    }
