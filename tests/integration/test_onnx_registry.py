"""What a user sees of the ONNX fast path in the session's shared registry (`champions_registry`):
the cars example's champion (HistGradientBoostingRegressor) is registered with a verified ONNX graph
and batch-scored by ONNX Runtime; cars_sklearn (a KernelRidge: no converter exists) says why it is
served by scikit-learn, in `airfoil models list` and its --json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.integration.conftest import Airfoil, home_copy
from tests.integration.serving.support import CARS_COLUMNS, CARS_ROWS

pytestmark = pytest.mark.integration

WHY = (
    "scikit-learn (no ONNX: KernelRidge: no ONNX converter for sklearn.kernel_ridge.KernelRidge "
    "(skl2onnx 1.20.0 has none, nor has airfoil))"
)


def test_models_list_says_what_serves_each_version_and_why(champions_registry: Airfoil) -> None:
    from airfoil.registry.versions import list_versions
    from airfoil.settings import load_settings

    settings = load_settings({"AIRFOIL_HOME": str(champions_registry.home)})
    (cars,) = list_versions(settings, "cars")  # what `models list --json` prints
    assert cars["estimator"] == "sklearn.ensemble.HistGradientBoostingRegressor"
    assert cars["onnx"] == "verified" and cars["served_by"] == "ONNX Runtime"
    assert cars["onnx_reason"].startswith("max |Δ prediction| "), cars

    (fallback,) = list_versions(settings, "cars_sklearn")
    assert fallback["onnx"] == "unsupported" and fallback["served_by"] == WHY, fallback
    table = champions_registry("models", "list", "cars_sklearn").stdout
    # the table folds long cells over several lines: the column and the reason's start and subject
    assert "served by" in table and "scikit-learn (no ONNX: KernelRidge:" in table, table
    assert "sklearn.kernel_ridge.KernelRidge" in table, table


def test_the_cars_champion_is_batch_scored_by_onnx(champions_registry: Airfoil, tmp_path: Path) -> None:
    """`airfoil predict` with the HistGradientBoosting champion: ONNX Runtime, scikit-learn's answers."""
    from airfoil.registry.versions import load_version
    from airfoil.settings import load_settings

    # a copy: predicting writes to the store, and the shared registry is read-only
    home = home_copy(champions_registry, tmp_path / "home")
    af = Airfoil(home=home, workdir=tmp_path)
    source, out = tmp_path / "cars.csv", tmp_path / "cars.parquet"
    pd.DataFrame(CARS_ROWS, columns=CARS_COLUMNS).to_csv(source, index=False)

    summary = json.loads(af("predict", "cars", "--input", str(source), "--output", str(out), "--json").stdout)
    assert summary["backend"] == "onnx" and summary["scored"] == len(CARS_ROWS), summary

    model, _ = load_version(load_settings({"AIRFOIL_HOME": str(home)}), "cars", 1)
    expected = model.predict(pd.read_csv(source).astype({"Origin": object}))
    np.testing.assert_allclose(pd.read_parquet(out)["prediction"].astype(float), expected, rtol=1e-9)
