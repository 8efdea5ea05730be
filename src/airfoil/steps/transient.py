"""The transient step: train a fresh model for one request, predict its rows, store them, keep no model.

Called by the only task of `<name>__transient` with the request in the DAG run's conf:
`{"request_id": "...", "rows": {column: [values]}}`. The model lives in memory only: nothing is
logged to MLflow, registered, or written to the artifact store. What is kept is the predictions
with their lineage (parameters, holdout metrics, dataset fingerprint, DAG run), written together
with the request's `done` status in one transaction; a failure marks the request `failed` with
the reason and stores no prediction.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from airfoil.artifacts import io
from airfoil.errors import DataError
from airfoil.monitor.reference import build_reference
from airfoil.registry.loaded import LoadedModel
from airfoil.steps import metrics
from airfoil.steps.checks import check_rows, row_count
from airfoil.steps.context import StepContext
from airfoil.steps.json import json_safe
from airfoil.steps.model import feature_frame
from airfoil.steps.predictions import prediction_table
from airfoil.steps.profiling import Profiler, dataset_reference
from airfoil.steps.train import latest_dataset, search
from airfoil.store import BatchKind, BatchStatus, open_store
from airfoil.store.schema import ProfileSource


def train_predict(ctx: StepContext) -> dict[str, Any]:
    """Train per the spec on the latest dataset, predict the request's rows, store them with lineage."""
    request_id, rows = _request(ctx.run.conf)
    store = open_store(ctx.settings)
    batch, _ = store.open_batch(
        ctx.spec.name, BatchKind.request, request_id, source="dag_run_conf", dag_id=ctx.run.dag_id
    )
    if batch.status == BatchStatus.done:  # the same request again (a re-run DAG run): not trained twice
        return {
            "request_id": request_id,
            "status": BatchStatus.done.value,
            "reused": True,
            "rows": batch.rows_total,
        }
    batch = store.start(batch.id, restart=True, dag_id=ctx.run.dag_id, dag_run_id=ctx.run.run_id)
    try:
        table, lineage, classes, profile = _train_and_predict(ctx, request_id, rows, batch.id)
        store.update(batch.id, lineage=lineage, classes=classes)
        store.write_chunk(batch.id, table, 0, done=True, profile=profile)
    except BaseException as exc:
        reason = str(exc) if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc}"
        store.finish(batch.id, BatchStatus.failed, error=reason[:4000] or type(exc).__name__)
        raise
    done = store.batch_by_id(batch.id)
    return {
        "request_id": request_id,
        "status": done.status,
        "rows": done.rows_total,
        "scored": done.rows_scored,
        "rejected": done.rows_rejected,
        "metric": lineage["metric"],
        "holdout_metrics": lineage["holdout_metrics"],
    }


def _request(conf: dict[str, Any]) -> tuple[str, dict[str, list[Any]]]:
    request_id, rows = conf.get("request_id"), conf.get("rows")
    if not isinstance(request_id, str) or not request_id:
        raise DataError(
            'a transient DAG run needs {"request_id": "...", "rows": {column: [values]}} in its conf; '
            "the conf has no request_id"
        )
    if not isinstance(rows, dict) or not rows:
        raise DataError(f"request {request_id!r}: conf.rows must be an object {{column: [values]}}")
    try:
        row_count(rows)
    except DataError as exc:
        raise DataError(f"request {request_id!r}: conf.rows: {exc}") from None
    return request_id, rows


def _train_and_predict(
    ctx: StepContext, request_id: str, rows: dict[str, list[Any]], batch_id: int
) -> tuple[Any, dict[str, Any], list[Any] | None, dict[str, Any]]:
    import numpy as np
    import sklearn

    from airfoil import __version__
    from airfoil.artifacts import onnx

    spec = ctx.spec
    dataset = latest_dataset(ctx)
    train = io.read_parquet(dataset["train"])
    test = io.read_parquet(dataset["test"])
    X, y = feature_frame(train, spec), train[spec.target]
    started = time.perf_counter()
    tuned = [search(spec, i, X, y) for i in range(len(spec.train.candidates))]
    model, chosen = max(tuned, key=lambda t: t[1]["rank_score"])  # first best wins ties, as evaluate
    X_test = feature_frame(test, spec)
    holdout = metrics.compute(spec, model, X_test, test[spec.target])
    train_seconds = time.perf_counter() - started

    rules = spec.validation.columns
    columns = onnx.input_schema(X, rules)
    loaded = LoadedModel.from_estimator(spec.name, spec.task, columns, holdout, model)
    classes = loaded.classes
    checked = check_rows(_arrow(rows, columns), columns, rules)
    n = len(checked.ok)
    if checked.ok.any():
        labels, proba = loaded.predict_arrays(checked.values)
    else:  # every row rejected: nothing to predict
        labels, proba = np.array([], dtype=object), None
    table = prediction_table(checked, np.asarray(labels), proba, classes=classes, row_index=np.arange(n))
    found = dataset_reference(
        ctx, dataset["fingerprint"], lambda: build_reference(X, columns, spec.task, model.predict(X_test))
    )
    assert found is not None  # built when missing
    reference, digest = found
    profiler = Profiler(reference, digest, spec.name, ProfileSource.request, batch_id, None)
    known = {c["name"] for c in columns}
    lineage = {
        "request_id": request_id,
        "pipeline": spec.name,
        "dag_id": ctx.run.dag_id,
        "dag_run_id": ctx.run.run_id,
        "dataset_fingerprint": dataset["fingerprint"],
        "dataset_prepared_by": dataset.get("prepared_by"),
        "train_rows": len(train),
        "holdout_rows": len(test),
        "candidate": chosen["candidate"],
        "estimator": chosen["estimator"],
        "params": chosen["best_params"],
        "metric": spec.metric,
        "cv_score": chosen["cv_score"],
        "cv_std": chosen["cv_std"],
        "holdout_metrics": holdout,
        "candidates": [
            {k: s[k] for k in ("candidate", "estimator", "best_params", "cv_score", "cv_std")}
            for _, s in tuned
        ],
        "columns": columns,
        "ignored_columns": sorted(c for c in rows if c not in known),
        "train_seconds": round(train_seconds, 3),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "airfoil_version": __version__,
        "sklearn_version": sklearn.__version__,
    }
    profile = profiler.row(checked, labels, 0)
    return table, json_safe(lineage), json_safe(classes) if classes else None, profile


def _arrow(rows: dict[str, list[Any]], columns: list[dict[str, Any]]) -> Any:
    """An Arrow table of the model's columns from JSON values; a column of mixed types becomes text
    (then `check_rows` rejects the rows whose text is not a number, naming the value)."""
    import pyarrow as pa

    arrays = {}
    for col in columns:
        name = col["name"]
        if name not in rows:
            continue  # check_rows names every missing column
        values = rows[name]
        plain_numbers = col["type"] == "number" and all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values
        )
        try:
            if col["type"] == "number" and not plain_numbers:
                raise TypeError("text or booleans in a number column")  # numpy would take True as 1.0
            arr = pa.array(values, pa.float64()) if plain_numbers else pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            arr = pa.array([None if v is None else _text(v) for v in values], pa.string())
        arrays[name] = arr
    return pa.table(arrays) if arrays else pa.table({"__empty__": pa.nulls(len(next(iter(rows.values()))))})


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
