"""The names airfoil gives things in Airflow: DAG ids and Asset URIs, each built here only."""

from __future__ import annotations

from enum import StrEnum


class DagKind(StrEnum):
    """The DAGs a pipeline can have; each is `<pipeline>__<kind>` in Airflow."""

    prepare = "prepare"
    train = "train"
    batch_predict = "batch_predict"
    transient = "transient"
    monitor = "monitor"


def dag_id(pipeline: str, kind: DagKind) -> str:
    """`<pipeline>__<kind>`, e.g. `breast_cancer__train`."""
    return f"{pipeline}__{kind.value}"


def dataset_asset(name: str) -> str:
    """URI of the Asset a pipeline's prepare DAG emits when a new train/test split is ready."""
    return f"airfoil://{name}/dataset"


def model_asset(name: str) -> str:
    """URI of the Asset emitted when a new champion is promoted."""
    return f"airfoil://{name}/model"


def drift_asset(name: str) -> str:
    """URI of the Asset a monitor run emits when it alerts on drift (and `retrain_on_drift` is on)."""
    return f"airfoil://{name}/drift"


def drift_alias(name: str) -> str:
    """The AssetAlias the monitor's alert task declares; an event is added to it only on drift."""
    return f"airfoil-{name}-drift"
