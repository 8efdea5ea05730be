"""A training run in MLflow: one run per Airflow DAG run (a nested run per candidate), the chosen
model logged with skops, and one registered version. Every lookup is by the DAG run's ids, so a
retried task logs into the same runs and never registers a second version."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from airfoil.artifacts import io
from airfoil.registry.client import client, use_fluent
from airfoil.settings import Settings


@dataclass(frozen=True)
class DagRun:
    """The Airflow DAG run a training run belongs to (its tags name it)."""

    dag_id: str
    run_id: str


def registered_by(settings: Settings, name: str, dag_run: DagRun) -> Any:
    """The version this DAG run registered already (a retry), or None."""
    found = client(settings).search_model_versions(
        f"name = '{name}' and tags.airflow_run_id = '{dag_run.run_id}' "
        f"and tags.airflow_dag_id = '{dag_run.dag_id}'"
    )
    return found[0] if found else None


def experiment_id(settings: Settings, name: str) -> str:
    """The experiment named after the pipeline, created with artifacts under the configured root."""
    c = client(settings)
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    from mlflow.exceptions import MlflowException

    try:
        return str(c.create_experiment(name, artifact_location=f"{settings.mlflow_artifacts}/{name}"))
    except MlflowException:  # created concurrently by another task
        exp = c.get_experiment_by_name(name)
        assert exp is not None
        return str(exp.experiment_id)


def find_or_create_run(
    settings: Settings,
    experiment: str,
    dag_run: DagRun,
    *,
    candidate: int | None,
    run_name: str,
    parent: str | None = None,
) -> str:
    """The MLflow run of this DAG run and candidate (`None`: the parent run, which logs the chosen model)."""
    c = client(settings)
    label = str(candidate if candidate is not None else "chosen")
    query = f"tags.airflow_dag_id = '{dag_run.dag_id}' and tags.airflow_run_id = '{dag_run.run_id}'"
    found = c.search_runs([experiment], f"{query} and tags.airfoil_candidate = '{label}'", max_results=1)
    if found:
        return str(found[0].info.run_id)
    tags = {"airflow_dag_id": dag_run.dag_id, "airflow_run_id": dag_run.run_id, "airfoil_candidate": label}
    if parent is not None:
        tags["mlflow.parentRunId"] = parent
    r = c.create_run(experiment, tags=tags, run_name=run_name)
    c.set_terminated(r.info.run_id)
    return str(r.info.run_id)


def log_candidate(
    settings: Settings, run_id: str, params: dict[str, str], metrics: dict[str, float], cv: dict[str, Any]
) -> None:
    """One candidate's best parameters, CV and test metrics, and every setting its search tried."""
    import mlflow

    use_fluent(settings)
    with mlflow.start_run(run_id=run_id, nested=True):
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.log_dict(cv, "cv_results.json")


@dataclass(frozen=True)
class ChosenModel:
    """What the parent run records about the chosen candidate, beside the model itself."""

    tags: dict[str, str]
    params: dict[str, Any]
    metrics: dict[str, float]
    plots: dict[str, str]  # file name -> URI of a PNG
    candidates: dict[str, Any]
    spec_json: str


def log_model(
    settings: Settings, run_id: str, chosen: ChosenModel, *, model: Any, model_file: bytes, example: Any
) -> str:
    """Log the chosen model (skops, with the trusted types of the file tune wrote) into the parent
    run, with its signature, input example and pinned pip requirements; the logged model's URI."""
    import mlflow
    from mlflow.models import infer_signature

    from airfoil.artifacts import modelfile
    from airfoil.registry.requirements import pip_requirements

    use_fluent(settings)
    signature = infer_signature(example, model.predict(example))
    with mlflow.start_run(run_id=run_id):
        mlflow.set_tags(chosen.tags)
        mlflow.log_params(chosen.params)
        mlflow.log_metrics(chosen.metrics)
        for name, uri in chosen.plots.items():
            mlflow.log_image(_png(uri), name)
        mlflow.log_dict(chosen.candidates, "candidates.json")
        mlflow.log_text(chosen.spec_json, "pipeline_spec.json")
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            skops_trusted_types=modelfile.trusted_types(model_file),  # the file tune wrote, not re-serialized
            signature=signature,
            input_example=example,
            # explicit: otherwise MLflow infers them by loading the model in a subprocess (7-13 s)
            pip_requirements=pip_requirements(model),
        )
    return str(info.model_uri)


def log_text(settings: Settings, run_id: str, text: str, artifact_file: str) -> None:
    """One text artifact of a run (e.g. the monitor's reference profile)."""
    client(settings).log_text(run_id, text, artifact_file)


def log_monitor_metrics(
    settings: Settings, run_id: str, metrics: dict[str, float], *, step: int, at: float
) -> None:
    """Monitor results as metrics over time on the run of a version: `step` counts monitor runs,
    the timestamp is the window's end."""
    from mlflow.entities import Metric

    stamp = int(at * 1000)
    client(settings).log_batch(run_id, metrics=[Metric(k, float(v), stamp, step) for k, v in metrics.items()])


def create_version(
    settings: Settings, name: str, model_uri: str, run_id: str, tags: dict[str, str]
) -> tuple[int, str]:
    """Register `model_uri` as a new version of `name`; tag it with the sha256 of its model file."""
    c = client(settings)
    _ensure_model(c, name)
    # An MLflow tracking server checks that a `models:/m-...` source names its logged model.
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    version = c.create_model_version(name, model_uri, run_id=run_id, tags=tags, model_id=model_id)
    location = c.get_model_version_download_uri(name, version.version)
    digest = io.sha256(io.read_bytes(f"{location.rstrip('/')}/model.skops"))
    c.set_model_version_tag(name, version.version, "sha256", digest)
    return int(version.version), digest


def _ensure_model(c: Any, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        c.get_registered_model(name)
    except MlflowException:
        with contextlib.suppress(MlflowException):  # created concurrently
            c.create_registered_model(name, description=f"airfoil pipeline `{name}`")


def _png(uri: str) -> Any:
    import io as pyio

    from PIL import Image

    return Image.open(pyio.BytesIO(io.read_bytes(uri)))
