"""MLflow clients pointed at the configured tracking server and registry."""

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
    """A client for `settings`' tracking store and registry; MLflow's process-wide URIs are left alone."""
    _quiet()
    import mlflow

    settings.home.mkdir(parents=True, exist_ok=True)
    return mlflow.MlflowClient(settings.tracking_uri, settings.registry_uri)


def use_fluent(settings: Settings) -> None:
    """Point MLflow's fluent API (`mlflow.start_run`, `mlflow.log_*`, `log_model`) at `settings`.

    Only logging a trained model needs it (`registry.runs`); everything else uses `client()`.
    """
    _quiet()
    import mlflow

    settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri)


def _quiet() -> None:
    # Quiet MLflow's own chatter (alembic migrations, "registered model" notices); errors still surface.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
