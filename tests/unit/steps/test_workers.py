"""steps.workers.warm: the CV worker pool started ahead is the one the train step's search uses."""

from __future__ import annotations

from airfoil.steps import workers
from airfoil.steps.model import feature_frame
from airfoil.steps.train import search
from tests.unit.unit_support import classification_frame


def _pool_pids() -> set[int]:
    from joblib.externals.loky import reusable_executor

    executor = reusable_executor._executor
    return set(executor._processes) if executor is not None else set()


def test_warm_starts_the_pool_the_search_then_reuses(make_spec) -> None:
    spec = make_spec(train={"n_jobs": 2})
    workers.warm(spec)
    started = _pool_pids()
    assert len(started) == 2

    df = classification_frame(60)
    _model, summary = search(spec, 0, feature_frame(df, spec), df["label"])
    assert _pool_pids() == started  # no new worker processes: the search ran on the warm pool
    assert summary["best_params"]["C"] in (0.1, 1.0)


def test_nothing_to_warm_for_one_process(make_spec) -> None:
    spec = make_spec(train={"n_jobs": 1})
    before = _pool_pids()
    workers.warm(spec)
    assert _pool_pids() == before


def test_modules_are_the_common_ones_and_each_candidates(make_spec) -> None:
    spec = make_spec(
        train={
            "candidates": [
                {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": [1.0]}},
                {"estimator": "sklearn.ensemble.RandomForestClassifier", "params": {"n_estimators": [10]}},
            ]
        }
    )
    names = workers.modules(spec)
    assert {"sklearn.linear_model", "sklearn.ensemble", "sklearn.pipeline", "pandas"} <= set(names)
    assert len(names) == len(set(names))
