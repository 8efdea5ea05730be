"""steps.diagnostics: what the report draws, on real scikit-learn models."""

from __future__ import annotations

import json

from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from airfoil.steps.diagnostics import CURVE_POINTS, RESIDUAL_POINTS, diagnostics, importance
from tests.unit.unit_support import classification_frame, regression_frame


def test_classification_diagnostics_count_every_test_row(make_spec) -> None:
    df = classification_frame(n=600)
    X, y = df[["x1", "x2"]], df["label"]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    d = diagnostics(make_spec(), model, X, y)
    assert d["classes"] == ["no", "yes"]
    assert sum(map(sum, d["confusion"])) == len(X)
    assert d["confusion"][1][1] == int(((model.predict(X) == "yes") & (y == "yes")).sum())
    (roc,) = d["roc"]  # binary: one curve, about the positive class ("yes", the last in sorted order)
    assert roc["class"] == "yes" and roc["auc"] > 0.95
    assert (roc["x"][0], roc["y"][0], roc["x"][-1], roc["y"][-1]) == (0.0, 0.0, 1.0, 1.0)
    assert len(roc["x"]) <= CURVE_POINTS
    (pr,) = d["pr"]
    assert abs(pr["prevalence"] - (y == "yes").mean()) < 1e-9
    # x1 decides the label twice as much as x2; neither is ignored
    ranked = [f["feature"] for f in d["importance"]["features"]]
    assert ranked == ["x1", "x2"] and d["importance"]["features"][1]["mean"] > 0
    json.dumps(d)  # stored as JSON with the version


def test_regression_diagnostics_sample_the_residuals(make_spec) -> None:
    df = regression_frame(n=1200)
    X, y = df[["x1", "x2"]], df["y"]
    model = RandomForestRegressor(n_estimators=20, random_state=0).fit(X, y)
    spec = make_spec(task="regression", target="y", train={"metric": "rmse"})
    d = diagnostics(spec, model, X, y)
    res = d["residuals"]
    assert len(res["predicted"]) == len(res["actual"]) == RESIDUAL_POINTS
    assert sum(res["histogram"]["counts"]) == len(X)
    assert d["importance"]["metric"] == "rmse" and d["importance"]["features"][0]["feature"] == "x1"
    json.dumps(d)


def test_a_classifier_without_probabilities_has_no_curves(make_spec) -> None:
    from sklearn.svm import LinearSVC

    df = classification_frame(n=200)
    X, y = df[["x1", "x2"]], df["label"]
    d = diagnostics(make_spec(train={"metric": "accuracy"}), LinearSVC().fit(X, y), X, y)
    assert d["roc"] == [] and d["pr"] == [] and sum(map(sum, d["confusion"])) == 200


def test_importance_is_the_same_on_the_worker_pool_as_in_one_process(make_spec) -> None:
    df = classification_frame(n=3000)
    X, y = df[["x1", "x2", "color"]], df["label"]
    X = X.assign(color=X["color"].astype("category").cat.codes)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    alone = importance(make_spec(train={"n_jobs": 1}), model, X, y)
    pooled = importance(make_spec(train={"n_jobs": 2}), model, X, y)
    assert pooled == alone
    assert alone["rows"] == 2000  # sampled: the same rows either way


def test_diagnostics_from_predictions_made_once_match_the_models_own(make_spec) -> None:
    from airfoil.steps.metrics import predict

    df = classification_frame(n=600)
    X, y = df[["x1", "x2"]], df["label"]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    spec = make_spec()
    assert diagnostics(spec, model, X, y, predict(spec, model, X)) == diagnostics(spec, model, X, y)


def test_importance_computed_in_another_thread_while_predicting_is_the_same(make_spec) -> None:
    """evaluate runs the chosen model's importance in a thread while it predicts and plots."""
    from concurrent.futures import ThreadPoolExecutor

    from airfoil.steps.metrics import predict

    df = classification_frame(n=600)
    X, y = df[["x1", "x2"]], df["label"]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    spec = make_spec()
    with ThreadPoolExecutor(1) as pool:
        ranked = pool.submit(importance, spec, model, X, y)
        predictions = predict(spec, model, X)  # the same model, at the same time
        beside = diagnostics(spec, model, X, y, predictions, ranked=ranked.result())
    assert beside == diagnostics(spec, model, X, y)
