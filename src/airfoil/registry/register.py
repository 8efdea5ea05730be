"""Register step: one MLflow run (nested run per candidate), the chosen model, one model version.

Idempotent: a version already registered by the same Airflow DAG run is returned, not duplicated.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from airfoil import __version__
from airfoil.registry.client import client, experiment_id
from airfoil.steps import io, modelfile
from airfoil.steps.context import StepContext
from airfoil.steps.model import feature_frame


def register(
    ctx: StepContext, dataset: dict[str, Any], tuned: list[dict[str, Any]], evaluated: dict[str, Any]
) -> dict[str, Any]:
    """Log the training to MLflow and register the chosen model as a new version of `<pipeline>`."""
    spec, run = ctx.spec, ctx.run
    c = client(ctx.settings)
    existing = c.search_model_versions(
        f"name = '{spec.name}' and tags.airflow_run_id = '{run.run_id}' "
        f"and tags.airflow_dag_id = '{run.dag_id}'"
    )
    if existing:
        v = existing[0]
        return {
            "name": spec.name,
            "version": int(v.version),
            "run_id": v.run_id,
            "reused": True,
            "metrics": evaluated["metrics"],
            "metric": spec.metric,
        }

    import mlflow
    from mlflow.models import infer_signature

    exp = experiment_id(c, spec.name, ctx.settings)
    parent_id = _find_or_create_run(
        c, exp, dag_id=run.dag_id, run_id=run.run_id, candidate=None, run_name=f"{spec.name} {run.run_id}"
    )
    for t in sorted(tuned, key=lambda t: t["candidate"]):
        row = next(r for r in evaluated["candidates"] if r["candidate"] == t["candidate"])
        child = _find_or_create_run(
            c,
            exp,
            dag_id=run.dag_id,
            run_id=run.run_id,
            candidate=t["candidate"],
            run_name=f"{t['candidate']}: {t['estimator'].rsplit('.', 1)[-1]}",
            parent=parent_id,
        )
        with mlflow.start_run(run_id=child, nested=True):
            mlflow.log_params(
                {"estimator": t["estimator"], **{k: str(v) for k, v in t["best_params"].items()}}
            )
            mlflow.log_metrics(
                {
                    f"cv_{t['metric']}": t["cv_score"],
                    f"cv_{t['metric']}_std": t["cv_std"],
                    **{f"test_{k}": v for k, v in row["test"].items()},
                }
            )
            mlflow.log_dict({"search": t["search"], "folds": t["cv_folds"]}, "cv_results.json")

    chosen = next(t for t in tuned if t["candidate"] == evaluated["chosen"])
    model_file = io.read_bytes(chosen["model"]["uri"], chosen["model"]["sha256"])
    model = modelfile.loads(model_file)
    train = io.read_parquet(dataset["train"])
    example = feature_frame(train, spec).head(5)
    signature = infer_signature(example, model.predict(example))
    with mlflow.start_run(run_id=parent_id):
        mlflow.set_tags({"dataset_fingerprint": dataset["fingerprint"], "airfoil_version": __version__})
        mlflow.log_params(
            {
                "estimator": chosen["estimator"],
                "selection_metric": spec.metric,
                "cv_folds": spec.train.cv,
                "train_rows": dataset["train"]["rows"],
                "test_rows": dataset["test"]["rows"],
                **{f"model.{k}": str(v) for k, v in chosen["best_params"].items()},
            }
        )
        mlflow.log_metrics(
            {
                f"cv_{spec.metric}": chosen["cv_score"],
                **{f"test_{k}": v for k, v in evaluated["metrics"].items()},
            }
        )
        for name, uri in evaluated["plots"].items():
            mlflow.log_image(_png(uri), name)
        mlflow.log_dict(
            {"candidates": evaluated["candidates"], "chosen": evaluated["chosen"]}, "candidates.json"
        )
        mlflow.log_text(spec.model_dump_json(indent=2, by_alias=True), "pipeline_spec.json")
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            skops_trusted_types=modelfile.trusted_types(model_file),  # the file tune wrote, not re-serialized
            signature=signature,
            input_example=example,
        )
    tags = {
        "dataset_fingerprint": dataset["fingerprint"],
        "airflow_dag_id": run.dag_id,
        "airflow_run_id": run.run_id,
        "airfoil_version": __version__,
        # The code that made the model: the resolved spec (candidates, prep, split) as a fingerprint.
        "spec_fingerprint": io.sha256(spec.model_dump_json(by_alias=True).encode()),
        "selection_metric": spec.metric,
        "test_metrics": json.dumps(evaluated["metrics"], sort_keys=True),
        "estimator": chosen["estimator"],
    }
    serving = serving_metadata(ctx, model, dataset)
    tags.update(serving)
    _ensure_model(c, spec.name)
    version = c.create_model_version(spec.name, info.model_uri, run_id=parent_id, tags=tags)
    location = c.get_model_version_download_uri(spec.name, version.version)
    digest = io.sha256(io.read_bytes(f"{location.rstrip('/')}/model.skops"))
    c.set_model_version_tag(spec.name, version.version, "sha256", digest)
    return {
        "name": spec.name,
        "version": int(version.version),
        "run_id": parent_id,
        "reused": False,
        "metrics": evaluated["metrics"],
        "metric": spec.metric,
        "sha256": digest,
    }


def serving_metadata(ctx: StepContext, model: Any, dataset: dict[str, Any]) -> dict[str, str]:
    """What the prediction API needs beyond the model: the input schema and a verified ONNX export."""
    from airfoil.registry import onnx

    spec = ctx.spec
    test = io.read_parquet(dataset["test"])
    X_test = feature_frame(test, spec)
    columns = onnx.input_schema(X_test, spec.validation.columns)
    onnx_bytes, report = onnx.export(model, X_test)
    if onnx_bytes is not None and report["status"] == "verified":
        report.update(uri=ctx.uri("model.onnx"), sha256=io.write_bytes(ctx.uri("model.onnx"), onnx_bytes))
    meta = {
        "task": spec.task,
        "columns": columns,
        "classes": [_label(c) for c in getattr(model, "classes_", [])],
        "onnx": report,
    }
    uri = ctx.uri("serving.json")
    return {
        "serving_uri": uri,
        "serving_sha256": io.write_json(uri, meta),
        "onnx": report["status"],  # verified | mismatch | unsupported
        "onnx_parity": str(report.get("reason", ""))[:1000],
    }


def _label(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _ensure_model(c: Any, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        c.get_registered_model(name)
    except MlflowException:
        with contextlib.suppress(MlflowException):  # created concurrently
            c.create_registered_model(name, description=f"airfoil pipeline `{name}`")


def _find_or_create_run(
    c: Any,
    exp: str,
    *,
    dag_id: str,
    run_id: str,
    candidate: int | None,
    run_name: str,
    parent: str | None = None,
) -> str:
    """The MLflow run for this (DAG run, candidate), so retries log into the same run."""
    query = f"tags.airflow_dag_id = '{dag_id}' and tags.airflow_run_id = '{run_id}'"
    query += f" and tags.airfoil_candidate = '{candidate if candidate is not None else 'chosen'}'"
    found = c.search_runs([exp], query, max_results=1)
    if found:
        return str(found[0].info.run_id)
    tags = {
        "airflow_dag_id": dag_id,
        "airflow_run_id": run_id,
        "airfoil_candidate": str(candidate if candidate is not None else "chosen"),
    }
    if parent is not None:
        tags["mlflow.parentRunId"] = parent
    r = c.create_run(exp, tags=tags, run_name=run_name)
    c.set_terminated(r.info.run_id)
    return str(r.info.run_id)


def _png(uri: str) -> Any:
    import io as pyio

    from PIL import Image

    return Image.open(pyio.BytesIO(io.read_bytes(uri)))
