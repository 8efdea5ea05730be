"""Start the worker processes the train step's cross-validation runs in, before it needs them.

With `train.n_jobs != 1`, scikit-learn's searches fan out to joblib's reusable loky pool: the first
search waits for the workers to start and import scikit-learn, pandas and the estimators (~1-2 s
here). `warm(spec)` runs a tiny job on the same pool (same size, same options, so the search
reuses it) whose workers import those modules; `airfoil run` calls it in the background while the
prepare DAG runs. Nothing else changes: same pool, same results.
"""

from __future__ import annotations

import importlib

from airfoil.spec.model import PipelineSpec

# What every candidate's CV fit imports in a worker, besides the estimator's own module.
_MODULES = (
    "pandas",
    "sklearn.pipeline",
    "sklearn.compose",
    "sklearn.impute",
    "sklearn.preprocessing",
    "sklearn.model_selection",
    "sklearn.metrics",
)


def modules(spec: PipelineSpec) -> list[str]:
    """The modules the train step's CV workers import: the common ones and each candidate's."""
    own = [c.estimator.rpartition(".")[0] for c in spec.train.candidates if "." in c.estimator]
    return list(dict.fromkeys([*_MODULES, *own]))


def _preload(names: list[str]) -> int:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # an estimator from the spec's own folder: the fit imports it itself
            continue
    return 0


def warm(spec: PipelineSpec) -> None:
    """Start the CV pool of `spec.train.n_jobs` workers with the training modules imported
    (nothing to do when training runs in one process)."""
    if spec.train.n_jobs == 1:
        return
    from joblib import effective_n_jobs
    from sklearn.utils.parallel import Parallel, delayed

    names = modules(spec)
    n = effective_n_jobs(spec.train.n_jobs)
    Parallel(n_jobs=spec.train.n_jobs)(delayed(_preload)(names) for _ in range(n))
