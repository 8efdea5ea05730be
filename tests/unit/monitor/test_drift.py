"""Drift decisions: power on real shifts, quiet on unchanged data, false alarms controlled."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from airfoil.errors import DataError
from airfoil.monitor.check import check
from airfoil.monitor.drift import adjust
from airfoil.spec.monitor import Monitor
from tests.unit.monitor.monitor_support import reference, window


def _drifted(result: dict) -> list[str]:
    return result["drifted_features"]


@pytest.mark.parametrize("rows", [1000, 10_000, 100_000])
def test_half_a_standard_deviation_is_found_at_every_window_size(rows: int) -> None:
    ref = reference()
    result = check(ref, window(ref, rows, seed=rows, shift=0.5), Monitor())
    assert _drifted(result) == ["x3"]
    x3 = next(f for f in result["features"] if f["name"] == "x3")
    assert x3["test"] == "ks" and x3["p_value"] < 1e-6 and x3["psi"] > 0.1
    assert result["alert"] and not result["dataset_drift"]  # 1 of 11 features: no dataset drift
    assert result["reasons"][0].startswith("1 of 11 features drift: x3")


def test_unchanged_data_raises_nothing_over_many_windows() -> None:
    ref = reference()
    alerts = [check(ref, window(ref, 10_000, seed=s), Monitor())["alert"] for s in range(30)]
    assert sum(alerts) == 0


def test_category_frequencies_that_move_are_found() -> None:
    ref = reference()
    result = check(ref, window(ref, 5000, seed=5, city_shares=[0.2, 0.3, 0.5]), Monitor())
    assert _drifted(result) == ["city"]
    city = next(f for f in result["features"] if f["name"] == "city")
    assert city["test"] == "chi2" and city["type"] == "categorical"


def test_a_handful_of_rows_is_described_not_judged() -> None:
    ref = reference()
    shifted = window(ref, 50, seed=6, shift=3.0)
    result = check(ref, shifted, Monitor())
    assert not result["alert"] and not result["decided"], result["reasons"]
    assert result["rows"] == 50
    x3 = next(f for f in result["features"] if f["name"] == "x3")
    assert x3["p_value"] < 1e-6 and not x3["drifted"]  # the statistics are there, the verdict is not
    assert check(ref, shifted, Monitor.model_validate({"drift": {"min_rows": 20}}))["drifted_features"] == [
        "x3"
    ]


def test_chi_square_pools_sparse_categories() -> None:
    ref = reference()
    few = check(ref, window(ref, 12, seed=12), Monitor.model_validate({"drift": {"min_rows": 1}}))
    city = next(f for f in few["features"] if f["name"] == "city")
    assert city["p_value"] > 0.05


def test_a_tiny_significant_change_on_a_huge_window_needs_a_real_effect() -> None:
    ref = reference(rows=20_000)
    # 0.1 sigma on 100k rows is significant for KS but moves PSI far below the 0.1 floor
    result = check(ref, window(ref, 100_000, seed=7, shift=0.1), Monitor())
    x3 = next(f for f in result["features"] if f["name"] == "x3")
    assert x3["psi"] < 0.1 and not x3["drifted"]
    only_test = Monitor.model_validate({"drift": {"test": "ks"}})
    assert "x3" in _drifted(check(ref, window(ref, 100_000, seed=7, shift=0.1), only_test))


def test_distance_tests_and_overrides_per_feature() -> None:
    ref = reference()
    shifted = window(ref, 10_000, seed=8, shift=0.5)
    psi = check(ref, shifted, Monitor.model_validate({"drift": {"psi": 0.2}}))
    x3 = next(f for f in psi["features"] if f["name"] == "x3")
    assert x3["test"] == "psi" and x3["p_value"] is None and x3["threshold"] == 0.2 and x3["drifted"]
    relaxed = Monitor.model_validate({"drift": {"features": {"x3": {"test": "js", "threshold": 0.9}}}})
    assert _drifted(check(ref, shifted, relaxed)) == []
    with pytest.raises(DataError, match=r"\['nope'\] are not inputs of the model"):
        check(ref, shifted, Monitor.model_validate({"drift": {"features": {"nope": {"test": "psi"}}}}))


def test_fdr_and_bonferroni_adjust_like_the_textbook() -> None:
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    np.testing.assert_allclose(adjust(p, "fdr"), stats.false_discovery_control(p, method="bh"))
    np.testing.assert_allclose(adjust(p, "bonferroni"), np.minimum(np.array(p) * 10, 1))
    assert adjust(p, "none") == p


def test_live_metrics_under_the_minimum_alert() -> None:
    ref = reference()
    result = check(
        ref,
        window(ref, 1000, seed=9),
        Monitor.model_validate({"min": {"accuracy": 0.9}}),
        {"accuracy": 0.8, "f1": 0.7},
    )
    assert result["alert"] and result["performance"] == {"accuracy": 0.8, "f1": 0.7}
    assert result["reasons"] == ["live accuracy 0.8000 is under monitor.min.accuracy 0.9"]
    assert not result["retrain_triggered"]  # retraining follows drift, not metrics


def test_retraining_follows_a_drift_alert_when_asked() -> None:
    ref = reference()
    shifted = window(ref, 5000, seed=10, shift=0.5)
    assert not check(ref, shifted, Monitor())["retrain_triggered"]
    assert check(ref, shifted, Monitor(retrain_on_drift=True))["retrain_triggered"]
    assert not check(ref, window(ref, 5000, seed=11), Monitor(retrain_on_drift=True))["retrain_triggered"]


def test_no_rows_is_no_drift() -> None:
    ref = reference()
    result = check(ref, None, Monitor())
    assert result["rows"] == 0 and not result["alert"] and result["drifted_features"] == []
