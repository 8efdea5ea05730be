"""ONNX export: every common estimator family, behind airfoil's own preprocessing, is converted and
predicts what scikit-learn predicts; a model that cannot be converted says precisely why.

Each case trains a small model on data the repository ships (examples/) or scikit-learn bundles
(iris: its column names have spaces and parentheses), exports it, and checks the graph itself with
ONNX Runtime, not only the report's word.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from sklearn import ensemble, linear_model, svm
from sklearn.base import is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.kernel_ridge import KernelRidge
from sklearn.pipeline import Pipeline
from tests.unit.unit_support import EXAMPLES

from airfoil.artifacts import modelfile, onnx
from airfoil.registry.versions import served_by
from airfoil.steps.model import build_pipeline, feature_frame

lightgbm = pytest.importorskip("lightgbm")
xgboost = pytest.importorskip("xgboost")


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    """OpenMP fits (HistGradientBoosting, LightGBM, XGBoost) on one thread: on a busy machine their
    spinning threads take longer than the work."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _cars() -> pd.DataFrame:
    """Miles per gallon: a text column (Origin) and missing Horsepower; Year as the model year."""
    df = pd.read_csv(EXAMPLES / "cars" / "data" / "cars.csv").drop(columns=["Name"])
    df = df.dropna(subset=["Miles_per_Gallon"])
    return df.assign(Year=pd.to_datetime(df["Year"]).dt.year)


def _breast_cancer() -> pd.DataFrame:
    return pd.read_csv(EXAMPLES / "breast_cancer" / "data" / "breast_cancer.csv")


def _iris() -> pd.DataFrame:
    return load_iris(as_frame=True).frame.rename(columns={"target": "species"})


DATA = {
    "cars": (_cars, "regression", "Miles_per_Gallon"),
    "breast_cancer": (_breast_cancer, "classification", "diagnosis"),
    "iris": (_iris, "classification", "species"),
}


def _fit(make_spec, data: str, estimator: Any, **prepare: Any) -> tuple[Pipeline, pd.DataFrame]:
    """airfoil's pipeline (impute, encode, scale + estimator) fitted on 80% of the data; the rest back."""
    load, task, target = DATA[data]
    df = load().sample(frac=1.0, random_state=0)
    spec = make_spec(task=task, target=target, prepare=prepare)
    X, y = feature_frame(df, spec), df[target]
    cut = int(len(df) * 0.8)
    pipe = build_pipeline(spec, X, estimator).fit(X.iloc[:cut], y.iloc[:cut])
    return pipe, X.iloc[cut:]


def _assert_same(pipe: Pipeline, data: bytes, X: pd.DataFrame) -> None:
    """The graph's own answer, fed as serving feeds it, against scikit-learn's."""
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    columns = [(str(c), onnx.input_kind(X[c].dtype)) for c in X.columns]
    got = session.run(None, onnx.feeds(columns, {c: X[c].tolist() for c, _ in columns}))
    expected = pipe.predict(X)
    if is_classifier(pipe):
        assert got[0].ravel().tolist() == expected.tolist()
        if hasattr(pipe, "predict_proba"):
            np.testing.assert_allclose(got[1], pipe.predict_proba(X), atol=onnx.TOLERANCE, rtol=0)
        else:
            assert len(got) == 1, "a classifier without probabilities must answer labels only"
    else:
        np.testing.assert_allclose(got[0].ravel(), expected, rtol=onnx.TOLERANCE, atol=onnx.TOLERANCE)


def _verified(pipe: Pipeline, X: pd.DataFrame, converter: str) -> dict[str, Any]:
    data, report = onnx.export(pipe, X)
    assert report["status"] == "verified", report
    assert report["converter"] == converter and data is not None
    _assert_same(pipe, data, X)
    return report


CASES = [
    ("cars", ensemble.RandomForestRegressor(n_estimators=10, random_state=0), "skl2onnx"),
    ("cars", ensemble.ExtraTreesRegressor(n_estimators=10, random_state=0), "skl2onnx"),
    ("cars", ensemble.GradientBoostingRegressor(n_estimators=30, random_state=0), "skl2onnx"),
    ("cars", ensemble.HistGradientBoostingRegressor(max_iter=30), "airfoil"),
    ("cars", ensemble.HistGradientBoostingRegressor(max_iter=20, loss="poisson"), "airfoil"),
    ("cars", linear_model.LinearRegression(), "skl2onnx"),
    ("cars", linear_model.Ridge(), "skl2onnx"),
    ("cars", linear_model.Lasso(alpha=0.01), "skl2onnx"),
    ("cars", linear_model.ElasticNet(alpha=0.01), "skl2onnx"),
    ("cars", linear_model.SGDRegressor(random_state=0), "skl2onnx"),
    ("cars", svm.LinearSVR(random_state=0), "skl2onnx"),
    ("cars", lightgbm.LGBMRegressor(n_estimators=30, verbose=-1), "airfoil"),
    ("cars", xgboost.XGBRegressor(n_estimators=30), "onnxmltools"),
    ("breast_cancer", ensemble.RandomForestClassifier(n_estimators=10, random_state=0), "skl2onnx"),
    ("breast_cancer", ensemble.ExtraTreesClassifier(n_estimators=10, random_state=0), "skl2onnx"),
    ("breast_cancer", ensemble.GradientBoostingClassifier(n_estimators=20, random_state=0), "skl2onnx"),
    ("breast_cancer", ensemble.HistGradientBoostingClassifier(max_iter=20), "airfoil"),
    ("breast_cancer", linear_model.LogisticRegression(max_iter=2000), "skl2onnx"),
    ("breast_cancer", linear_model.SGDClassifier(random_state=0), "skl2onnx"),
    ("breast_cancer", svm.LinearSVC(random_state=0), "skl2onnx"),
    ("breast_cancer", lightgbm.LGBMClassifier(n_estimators=20, verbose=-1), "airfoil"),
    ("iris", ensemble.RandomForestClassifier(n_estimators=10, random_state=0), "skl2onnx"),
    ("iris", ensemble.GradientBoostingClassifier(n_estimators=10, random_state=0), "skl2onnx"),
    ("iris", ensemble.HistGradientBoostingClassifier(max_iter=10), "airfoil"),
    ("iris", linear_model.SGDClassifier(loss="log_loss", random_state=0), "skl2onnx"),
    ("iris", linear_model.RidgeClassifier(), "skl2onnx"),
    ("iris", lightgbm.LGBMClassifier(n_estimators=10, verbose=-1), "airfoil"),
    ("iris", xgboost.XGBClassifier(n_estimators=10), "onnxmltools"),
]


@pytest.mark.parametrize(
    ("data", "estimator", "converter"), CASES, ids=[f"{d}-{type(e).__name__}" for d, e, _ in CASES]
)
def test_every_common_family_is_verified(make_spec, data: str, estimator: Any, converter: str) -> None:
    pipe, X = _fit(make_spec, data, estimator)
    report = _verified(pipe, X, converter)
    scale = 1.0 if is_classifier(pipe) else float(np.abs(pipe.predict(X)).max())
    assert report["max_diff"] <= onnx.TOLERANCE * max(1.0, scale)


def test_hist_gradient_boosting_is_exact_in_float64(make_spec) -> None:
    """airfoil's converter compares the raw float64 thresholds: no float32 rounding at all."""
    pipe, X = _fit(make_spec, "cars", ensemble.HistGradientBoostingRegressor(max_iter=50))
    report = _verified(pipe, X, "airfoil")
    assert report["estimator"] == "sklearn.ensemble.HistGradientBoostingRegressor"
    assert report["max_diff"] < 1e-9


def test_hist_gradient_boosting_native_categories_and_unseen_values(make_spec) -> None:
    """`encode: ordinal` + `categorical_features` (indices after the numeric columns): HGB's own
    categorical splits; an unseen Origin (-1 from the encoder) follows the missing-value side."""
    model = ensemble.HistGradientBoostingRegressor(max_iter=30, categorical_features=[6], random_state=0)
    pipe, X = _fit(make_spec, "cars", model, encode="ordinal", scale="none")
    assert pipe[-1].is_categorical_.tolist() == [False] * 6 + [True]
    assert any(p.nodes["is_categorical"].any() for it in pipe[-1]._predictors for p in it)
    _verified(pipe, pd.concat([X, X.head(5).assign(Origin="Atlantis")]), "airfoil")


def test_hist_gradient_boosting_with_missing_values_reaching_the_trees() -> None:
    """NaN at the estimator (no imputer before it) goes where `missing_go_to_left` sends it."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    X.loc[rng.random(600) < 0.2, "a"] = np.nan
    y = np.where(X["a"].isna(), 3.0, X["a"].fillna(0) * 2) + X["b"]
    for model, target in (
        (ensemble.HistGradientBoostingRegressor(max_iter=20), y),
        (
            ensemble.HistGradientBoostingClassifier(max_iter=20),
            np.array(["low", "mid", "high"])[(y > 1).astype(int) + (y > 2)],
        ),
    ):
        pipe = Pipeline(
            [("prepare", ColumnTransformer([("numeric", "passthrough", ["a", "b"])])), ("model", model)]
        ).fit(X.iloc[:500], target[:500])
        test = pd.concat([X.iloc[500:], pd.DataFrame({"a": [np.nan] * 3, "b": [-1.0, 0.0, 1.0]})])
        _verified(pipe, test, "airfoil")


def test_lightgbm_trains_from_a_spec_and_its_model_file_loads(make_spec) -> None:
    """`lightgbm.LGBMClassifier` as a spec names it: trained by airfoil's search, saved as skops,
    loaded back under airfoil's trusted types, and exported."""
    from airfoil.steps.train import search

    spec = make_spec(
        task="classification",
        target="diagnosis",
        train={
            "cv": 2,
            "candidates": [
                {"estimator": "lightgbm.LGBMClassifier", "params": {"n_estimators": 20, "n_jobs": 1}}
            ],
        },
    )
    df = _breast_cancer()
    best, summary = search(spec, 0, feature_frame(df, spec), df["diagnosis"])
    assert summary["estimator"] == "lightgbm.LGBMClassifier"
    loaded = modelfile.loads(modelfile.dumps(best))
    X = feature_frame(df, spec).tail(100)
    assert loaded.predict(X).tolist() == best.predict(X).tolist()
    _verified(loaded, X, "airfoil")


def test_an_estimator_without_converter_says_which_and_why(make_spec) -> None:
    pipe, X = _fit(make_spec, "cars", KernelRidge(alpha=1.0))
    data, report = onnx.export(pipe, X)
    assert data is None and report["status"] == "unsupported"
    assert report["reason"].startswith(
        "KernelRidge: no ONNX converter for sklearn.kernel_ridge.KernelRidge (skl2onnx 1."
    ), report["reason"]
    assert served_by(report["status"], report["reason"]) == f"scikit-learn (no ONNX: {report['reason']})"


def test_a_parity_failure_is_a_mismatch_with_the_measured_difference(
    make_spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """XGBoost predicts in float32: with a tolerance of zero its export cannot be verified."""
    pipe, X = _fit(make_spec, "cars", xgboost.XGBRegressor(n_estimators=30))
    monkeypatch.setattr(onnx, "TOLERANCE", 0.0)
    _, report = onnx.export(pipe, X)
    assert report["status"] == "mismatch"
    assert (
        report["reason"].startswith("XGBRegressor: max |Δ prediction| ") and "exceeds 0" in report["reason"]
    )
    assert served_by("mismatch", report["reason"]).startswith("scikit-learn (ONNX mismatch: XGBRegressor: ")


def test_served_by_reads_the_tags() -> None:
    assert served_by("verified", "max |Δ prediction| 1e-14") == "ONNX Runtime"
    assert served_by(None, None) == "scikit-learn (no ONNX export recorded)"
