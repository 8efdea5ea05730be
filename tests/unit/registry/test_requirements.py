"""The pinned pip requirements airfoil logs with a model (airfoil.registry.requirements)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from airfoil.registry.requirements import pip_requirements

X = pd.DataFrame({"a": np.arange(60.0), "b": ["x", "y", "z"] * 20})
Y = np.arange(60) % 2


def pipeline(estimator: object) -> Pipeline:
    prep = ColumnTransformer([("num", StandardScaler(), ["a"]), ("cat", OneHotEncoder(), ["b"])])
    return Pipeline([("prepare", prep), ("model", estimator)])


def pin(name: str) -> str:
    return f"{name}=={metadata.version(name)}"


def test_pins_mlflow_sklearn_and_skops_at_installed_versions() -> None:
    reqs = pip_requirements(pipeline(LogisticRegression()).fit(X, Y))
    for name in ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas"):
        assert pin(name) in reqs
    assert reqs == sorted(reqs)
    assert not any(r.startswith(("lightgbm", "xgboost", "airfoil")) for r in reqs)


def test_adds_the_distribution_of_an_estimator_only_when_the_pipeline_uses_it() -> None:
    lightgbm = pytest.importorskip("lightgbm")
    model = pipeline(lightgbm.LGBMClassifier(n_estimators=3, verbose=-1)).fit(X, Y)
    assert pin("lightgbm") in pip_requirements(model)
    unfitted = pipeline(lightgbm.LGBMClassifier(n_estimators=3))
    assert pin("lightgbm") in pip_requirements(unfitted)
    assert not any(r.startswith("lightgbm") for r in pip_requirements(pipeline(LogisticRegression())))


def test_mlflow_records_the_list_as_the_logged_models_requirements(tmp_path: Path) -> None:
    import mlflow

    model = pipeline(LogisticRegression()).fit(X, Y)
    reqs = pip_requirements(model)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        exp = mlflow.create_experiment("reqs", artifact_location=(tmp_path / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=exp):
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=reqs)
        local = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "dl")))
    finally:
        mlflow.set_tracking_uri(None)
    assert (local / "requirements.txt").read_text().split() == reqs
