"""The examples end to end through real Airflow (DAG.test) and real MLflow, checked in the registry.

breast_cancer's and cars' first run is the one that builds the session's shared registry
(`champions_registry`: each example's own spec, `airfoil run` in a fresh home); these tests check
what it printed and left behind, read only, and run again in a copy of that home.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.integration.conftest import Airfoil, home_copy, run_output

pytestmark = pytest.mark.integration

CLASSIFICATION_METRICS = {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}


def _mlflow(home: Path) -> MlflowClient:
    uri = f"sqlite:///{home / 'mlflow.db'}"
    return MlflowClient(uri, uri)


def test_breast_cancer_end_to_end(champions_registry: Airfoil, airfoil: Airfoil, examples: Path) -> None:
    first = champions_registry  # `airfoil run` of the example in a fresh home, read only here
    out = run_output(first, "breast_cancer")
    assert "breast_cancer__prepare success" in out and "breast_cancer__train success" in out
    assert "LogisticRegression" in out and "RandomForestClassifier" in out  # the candidates table
    assert "registered breast_cancer v1" in out
    assert "v1 is now champion" in out and "no champion yet" in out
    assert "mlflow ui --backend-store-uri" in out and "airfoil up" in out

    [v1] = first.versions("breast_cancer")
    assert v1["version"] == 1 and v1["aliases"] == ["champion"] and v1["status"] == "READY"
    assert set(v1["metrics"]) == CLASSIFICATION_METRICS
    assert v1["metrics"]["f1"] >= 0.9 and v1["metrics"]["roc_auc"] >= 0.95
    assert v1["promoted"]["passed"] is True and "f1" in v1["promoted"]["reason"]
    assert v1["created_at"]

    # The prepared split: Parquet under the artifact root, fingerprinted, published as latest.
    latest = json.loads((first.home / "artifacts/breast_cancer/dataset/latest.json").read_text())
    assert v1["dataset_fingerprint"] == latest["fingerprint"]
    assert latest["train"]["rows"] + latest["test"]["rows"] == 569
    train_file = Path(latest["train"]["uri"])
    assert train_file.suffix == ".parquet" and "breast_cancer__prepare" in str(train_file)
    assert hashlib.sha256(train_file.read_bytes()).hexdigest() == latest["train"]["sha256"]

    # MLflow: the version's tags, a parent run with a nested run per candidate, plots, skops model.
    c = _mlflow(first.home)
    mv = c.get_model_version("breast_cancer", "1")
    assert mv.tags["airflow_dag_id"] == "breast_cancer__train"
    assert mv.tags["airflow_run_id"].startswith("manual__")
    assert mv.tags["airfoil_version"] and mv.tags["dataset_fingerprint"] == latest["fingerprint"]
    location = Path(c.get_model_version_download_uri("breast_cancer", "1").removeprefix("file://"))
    assert hashlib.sha256((location / "model.skops").read_bytes()).hexdigest() == mv.tags["sha256"]
    assert (location / "input_example.json").exists()
    assert "signature" in (location / "MLmodel").read_text()
    assert "serialization_format: skops" in (location / "MLmodel").read_text()
    run = c.get_run(mv.run_id)
    assert run.data.metrics["test_f1"] == pytest.approx(v1["metrics"]["f1"])
    children = c.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert len(children) == 2
    assert all("cv_f1" in child.data.metrics and "estimator" in child.data.params for child in children)
    artifacts = {a.path for a in c.list_artifacts(run.info.run_id)}
    assert {"confusion_matrix.png", "roc_curve.png", "candidates.json"} <= artifacts

    # XCom carries references and numbers, never data: every value is small JSON.
    with sqlite3.connect(first.home / "airflow" / "airflow.db") as db:
        sizes = [len(str(value)) for (value,) in db.execute("select value from xcom")]
    assert sizes and max(sizes) < 20_000

    # A second run on the same data (in a copy of that home): same fingerprint, a second version that
    # ties the champion.
    home_copy(first, airfoil.home)
    proc = airfoil("run", str(examples / "breast_cancer" / "pipeline.yaml"))
    assert "registered breast_cancer v2" in proc.stdout
    versions = airfoil.versions("breast_cancer")
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["dataset_fingerprint"] == versions[1]["dataset_fingerprint"]
    assert versions[0]["metrics"] == versions[1]["metrics"]
    assert "vs champion v1" in versions[0]["promoted"]["reason"]
    assert airfoil.champion("breast_cancer") == 2


def test_cars_regression_with_missing_values_and_custom_step(champions_registry: Airfoil) -> None:
    airfoil = champions_registry  # `airfoil run` of the example in a fresh home, read only here
    assert "registered cars v1" in run_output(airfoil, "cars")
    [v1] = airfoil.versions("cars")
    assert set(v1["metrics"]) == {"rmse", "mae", "r2"}
    assert v1["aliases"] == ["champion"], v1["promoted"]
    latest = json.loads((airfoil.home / "artifacts/cars/dataset/latest.json").read_text())
    assert latest["rows_without_target"] == 8  # cars with no Miles_per_Gallon are not trained on
    c = _mlflow(airfoil.home)
    run = c.get_run(c.get_model_version("cars", "1").run_id)
    assert "residuals.png" in {a.path for a in c.list_artifacts(run.info.run_id)}
    # The saved model carries its preprocessing: raw rows with a missing Horsepower and a text Origin.
    import pandas as pd

    from airfoil.registry.versions import load_version
    from airfoil.settings import load_settings

    model, info = load_version(load_settings({"AIRFOIL_HOME": str(airfoil.home)}), "cars", 1)
    rows = pd.DataFrame(
        {
            "Cylinders": [4, 8],
            "Displacement": [97.0, 350.0],
            "Horsepower": [None, 165.0],
            "Weight_in_lbs": [2130, 3693],
            "Acceleration": [14.5, 11.5],
            "Year": [1982, 1970],
            "Origin": ["Mars", "USA"],
        }
    )  # an unknown category must not fail
    mpg = model.predict(rows[list(info["input_example"].columns)])
    assert 25 < mpg[0] < 45 and 8 < mpg[1] < 22


def test_seattle_weather_multiclass_with_time_split(airfoil: Airfoil, examples: Path) -> None:
    airfoil("run", str(examples / "seattle_weather" / "pipeline.yaml"))
    [v1] = airfoil.versions("seattle_weather")
    assert {"f1_macro", "f1_weighted", "precision_weighted", "recall_macro", "log_loss"} <= set(v1["metrics"])
    assert v1["metrics"]["f1"] == v1["metrics"]["f1_macro"]
    # Time-based split: everything in the test set comes after test_after, everything in train before.
    import pandas as pd

    latest = json.loads((airfoil.home / "artifacts/seattle_weather/dataset/latest.json").read_text())
    train = pd.read_parquet(latest["train"]["uri"])
    test = pd.read_parquet(latest["test"]["uri"])
    assert pd.to_datetime(train["date"]).max() <= pd.Timestamp("2014-12-31")
    assert pd.to_datetime(test["date"]).min() > pd.Timestamp("2014-12-31")
    assert len(test) == 365
