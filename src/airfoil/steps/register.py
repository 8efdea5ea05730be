"""Register step: log the training to MLflow (a nested run per candidate) and register the chosen
model as one version, with what serving needs (input schema, a verified ONNX export).

Idempotent: a version already registered by the same Airflow DAG run is returned, not duplicated.
"""

from __future__ import annotations

import json
from typing import Any

from airfoil import __version__
from airfoil.artifacts import io, modelfile
from airfoil.registry import runs
from airfoil.steps.context import StepContext
from airfoil.steps.model import feature_frame


def register(
    ctx: StepContext, dataset: dict[str, Any], tuned: list[dict[str, Any]], evaluated: dict[str, Any]
) -> dict[str, Any]:
    """Log the training to MLflow and register the chosen model as a new version of `<pipeline>`."""
    spec, settings = ctx.spec, ctx.settings
    dag_run = runs.DagRun(ctx.run.dag_id, ctx.run.run_id)
    done = {"name": spec.name, "metrics": evaluated["metrics"], "metric": spec.metric}
    existing = runs.registered_by(settings, spec.name, dag_run)
    if existing is not None:
        return {**done, "version": int(existing.version), "run_id": existing.run_id, "reused": True}

    exp = runs.experiment_id(settings, spec.name)
    parent = runs.find_or_create_run(
        settings, exp, dag_run, candidate=None, run_name=f"{spec.name} {dag_run.run_id}"
    )
    _log_candidates(ctx, (exp, parent), dag_run, tuned, evaluated)

    chosen = next(t for t in tuned if t["candidate"] == evaluated["chosen"])
    model_file = io.read_bytes(chosen["model"]["uri"], chosen["model"]["sha256"])
    model = modelfile.loads(model_file)
    example = feature_frame(io.read_parquet(dataset["train"]), spec).head(5)
    model_uri = runs.log_model(
        settings,
        parent,
        runs.ChosenModel(
            tags={"dataset_fingerprint": dataset["fingerprint"], "airfoil_version": __version__},
            params={
                "estimator": chosen["estimator"],
                "selection_metric": spec.metric,
                "cv_folds": spec.train.cv,
                "train_rows": dataset["train"]["rows"],
                "test_rows": dataset["test"]["rows"],
                **{f"model.{k}": str(v) for k, v in chosen["best_params"].items()},
            },
            metrics={
                f"cv_{spec.metric}": chosen["cv_score"],
                **{f"test_{k}": v for k, v in evaluated["metrics"].items()},
            },
            plots=evaluated["plots"],
            candidates={"candidates": evaluated["candidates"], "chosen": evaluated["chosen"]},
            spec_json=spec.model_dump_json(indent=2, by_alias=True),
        ),
        model=model,
        model_file=model_file,
        example=example,
    )
    tags = {
        "dataset_fingerprint": dataset["fingerprint"],
        "airflow_dag_id": dag_run.dag_id,
        "airflow_run_id": dag_run.run_id,
        "airfoil_version": __version__,
        # The code that made the model: the resolved spec (candidates, prep, split) as a fingerprint.
        "spec_fingerprint": io.sha256(spec.model_dump_json(by_alias=True).encode()),
        "selection_metric": spec.metric,
        "test_metrics": json.dumps(evaluated["metrics"], sort_keys=True),
        "estimator": chosen["estimator"],
        **serving_metadata(ctx, model, dataset),
        **reference_metadata(ctx, model, dataset, parent),
        **diagnostics_metadata(ctx, evaluated, parent),
    }
    version, digest = runs.create_version(settings, spec.name, model_uri, parent, tags)
    return {**done, "version": version, "run_id": parent, "reused": False, "sha256": digest}


def _log_candidates(
    ctx: StepContext,
    within: tuple[str, str],
    dag_run: runs.DagRun,
    tuned: list[dict[str, Any]],
    evaluated: dict[str, Any],
) -> None:
    """One nested MLflow run per candidate (in the experiment and under the parent run `within`):
    its best parameters, CV and test metrics."""
    settings = ctx.settings
    exp, parent = within
    for t in sorted(tuned, key=lambda t: t["candidate"]):
        row = next(r for r in evaluated["candidates"] if r["candidate"] == t["candidate"])
        child = runs.find_or_create_run(
            settings,
            exp,
            dag_run,
            candidate=t["candidate"],
            run_name=f"{t['candidate']}: {t['estimator'].rsplit('.', 1)[-1]}",
            parent=parent,
        )
        runs.log_candidate(
            settings,
            child,
            params={"estimator": t["estimator"], **{k: str(v) for k, v in t["best_params"].items()}},
            metrics={
                f"cv_{t['metric']}": t["cv_score"],
                f"cv_{t['metric']}_std": t["cv_std"],
                **{f"test_{k}": v for k, v in row["test"].items()},
            },
            cv={"search": t["search"], "folds": t["cv_folds"]},
        )


def serving_metadata(ctx: StepContext, model: Any, dataset: dict[str, Any]) -> dict[str, str]:
    """What the prediction API needs beyond the model: the input schema and a verified ONNX export."""
    from airfoil.artifacts import onnx

    spec = ctx.spec
    X_test = feature_frame(io.read_parquet(dataset["test"]), spec)
    columns = onnx.input_schema(X_test, spec.validation.columns)
    onnx_bytes, report = onnx.export(model, X_test)
    if onnx_bytes is not None and report["status"] == "verified":
        report.update(uri=ctx.uri("model.onnx"), sha256=io.write_bytes(ctx.uri("model.onnx"), onnx_bytes))
    meta = {
        "task": spec.task,
        "columns": columns,
        "classes": [c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])],
        "onnx": report,
    }
    uri = ctx.uri("serving.json")
    return {
        "serving_uri": uri,
        "serving_sha256": io.write_json(uri, meta),
        "onnx": report["status"],  # verified | mismatch | unsupported
        "onnx_parity": str(report.get("reason", ""))[:1000],
    }


def reference_metadata(ctx: StepContext, model: Any, dataset: dict[str, Any], run_id: str) -> dict[str, str]:
    """The reference the monitor compares scored rows with: the train split's inputs and the test
    split's predictions, in bins fitted on them; written next to the model and logged to MLflow."""
    from airfoil.artifacts import onnx
    from airfoil.monitor.reference import build_reference, write_reference

    spec = ctx.spec
    X_train = feature_frame(io.read_parquet(dataset["train"]), spec)
    X_test = feature_frame(io.read_parquet(dataset["test"]), spec)
    columns = onnx.input_schema(X_test, spec.validation.columns)
    reference = build_reference(X_train, columns, spec.task, model.predict(X_test), seed=spec.split.seed)
    uri = ctx.uri("reference.json")
    digest = write_reference(uri, reference)
    runs.log_text(ctx.settings, run_id, reference.dumps().decode(), "monitor/reference.json")
    return {"profile_uri": uri, "profile_sha256": digest}


def diagnostics_metadata(ctx: StepContext, evaluated: dict[str, Any], run_id: str) -> dict[str, str]:
    """The report's data (curves, residuals, permutation importance): tags pointing at the file the
    evaluate step wrote, and a copy in the MLflow run. A retried evaluate without it adds nothing."""
    ref = evaluated.get("diagnostics")
    if not ref:
        return {}
    text = io.read_bytes(ref["uri"], ref["sha256"]).decode()
    runs.log_text(ctx.settings, run_id, text, "report/diagnostics.json")
    return {"diagnostics_uri": ref["uri"], "diagnostics_sha256": ref["sha256"]}
