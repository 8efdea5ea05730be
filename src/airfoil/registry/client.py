"""An MLflow client pointed at the configured tracking server and registry."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from airfoil.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION = "champion"
HISTORY_TAG = "airfoil.champion_history"


def client(settings: Settings) -> MlflowClient:
    """Configure MLflow for `settings` (tracking + registry URIs) and return a client."""
    # Quiet MLflow's own chatter (alembic migrations, "registered model" notices); errors still surface.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    import mlflow

    settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri)
    return mlflow.MlflowClient(settings.tracking_uri, settings.registry_uri)


def experiment_id(c: MlflowClient, name: str, settings: Settings) -> str:
    """The experiment named after the pipeline, created with artifacts under the configured root."""
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
