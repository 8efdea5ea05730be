"""Train steps: find the newest prepared dataset, and tune one candidate with cross-validation."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airfoil.artifacts import io, modelfile
from airfoil.errors import DataError
from airfoil.steps.context import StepContext
from airfoil.steps.json import json_safe
from airfoil.steps.model import build_pipeline, feature_frame, make_estimator, scorer, signed

if TYPE_CHECKING:
    import pandas as pd

    from airfoil.spec.model import PipelineSpec


def latest_dataset(ctx: StepContext) -> dict[str, Any]:
    """The train/test split the prepare DAG published last."""
    uri = ctx.pipeline_uri("dataset", "latest.json")
    if not io.exists(uri):
        raise DataError(
            f"pipeline {ctx.spec.name!r} has no prepared dataset yet; run the prepare DAG first "
            f"(airfoil run <spec> --only prepare)"
        )
    dataset: dict[str, Any] = io.read_json(uri)
    return dataset


def tune(ctx: StepContext, dataset: dict[str, Any], candidate: int) -> dict[str, Any]:
    """Search one candidate's parameter grid with k-fold CV; save the refitted best pipeline."""
    spec = ctx.spec
    train = io.read_parquet(dataset["train"])
    X, y = feature_frame(train, spec), train[spec.target]
    best, summary = search(spec, candidate, X, y)
    return {**summary, "model": modelfile.save(best, ctx.uri("model.skops"))}


def search(spec: PipelineSpec, candidate: int, X: pd.DataFrame, y: pd.Series) -> tuple[Any, dict[str, Any]]:
    """Cross-validated search over one candidate's grid, in memory: (refitted best pipeline, summary).

    The summary is JSON-able: candidate, estimator, best_params, metric, cv_score, cv_std, cv_folds,
    rank_score, search (every setting tried) and fit_seconds. Nothing is written anywhere.
    """
    from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, StratifiedKFold

    cand = spec.train.candidates[candidate]
    classes = sorted(y.unique().tolist(), key=str) if spec.task == "classification" else None
    pipe = build_pipeline(spec, X, make_estimator(spec, candidate))
    grid = {f"model__{k}": v for k, v in cand.params.items()}
    valid = pipe.named_steps["model"].get_params()
    unknown = [k for k in cand.params if k not in valid]
    if unknown:
        raise DataError(
            f"train.candidates[{candidate}].params: {cand.estimator} has no parameter(s) {unknown}; "
            f"it takes {sorted(valid)}"
        )
    folds = spec.train.cv
    if spec.task == "classification":
        smallest = int(y.value_counts().min())
        if smallest < folds:
            raise DataError(f"train.cv = {folds} but the rarest class has only {smallest} training rows")
        cv: Any = StratifiedKFold(folds, shuffle=True, random_state=spec.split.seed)
    else:
        cv = KFold(folds, shuffle=True, random_state=spec.split.seed)
    common = {
        "scoring": scorer(spec, classes),
        "cv": cv,
        "n_jobs": spec.train.n_jobs,
        "refit": True,
        "error_score": "raise",
    }
    n_settings = 1
    for values in grid.values():
        n_settings *= len(values)
    if spec.train.search == "random" and n_settings > spec.train.n_iter:
        searcher: Any = RandomizedSearchCV(
            pipe, grid, n_iter=spec.train.n_iter, random_state=spec.split.seed, **common
        )
    else:
        searcher = GridSearchCV(pipe, grid, **common)
    started = time.perf_counter()
    try:
        searcher.fit(X, y)
    except ValueError as exc:
        raise DataError(f"training {cand.estimator} failed: {exc}") from exc
    seconds = time.perf_counter() - started
    best = searcher.best_index_
    folds_scores = [float(searcher.cv_results_[f"split{i}_test_score"][best]) for i in range(folds)]
    # sklearn maximises; report the metric in its natural sign (rmse positive, not negated).
    sign = -1.0 if spec.metric in ("rmse", "mae", "log_loss") else 1.0
    results = [
        {
            "params": {k.removeprefix("model__"): v for k, v in p.items()},
            "cv_mean": sign * float(m),
            "cv_std": float(s),
        }
        for p, m, s in zip(
            searcher.cv_results_["params"],
            searcher.cv_results_["mean_test_score"],
            searcher.cv_results_["std_test_score"],
            strict=True,
        )
    ]
    cv_score = sign * float(searcher.best_score_)
    summary = {
        "candidate": candidate,
        "estimator": cand.estimator,
        "best_params": {k.removeprefix("model__"): json_safe(v) for k, v in searcher.best_params_.items()},
        "metric": spec.metric,
        "cv_score": cv_score,
        "cv_std": float(searcher.cv_results_["std_test_score"][best]),
        "cv_folds": [sign * s for s in folds_scores],
        "rank_score": signed(spec.metric, cv_score),
        "search": json_safe(results),
        "fit_seconds": round(seconds, 3),
    }
    return searcher.best_estimator_, summary
