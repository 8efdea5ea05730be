"""MLflow clients pointed at the configured tracking server and registry."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import TYPE_CHECKING

from airfoil.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION = "champion"
HISTORY_TAG = "airfoil.champion_history"
# One thread at a time builds a client: the first one opens (and on a new home creates) the tracking
# store, which MLflow then caches; `warm` may be doing that in the background.
_opening = threading.Lock()


def client(settings: Settings) -> MlflowClient:
    """A client for `settings`' tracking store and registry; MLflow's process-wide URIs are left alone."""
    _quiet()
    import mlflow

    settings.home.mkdir(parents=True, exist_ok=True)
    with _opening:
        return mlflow.MlflowClient(settings.tracking_uri, settings.registry_uri)


def warm(settings: Settings) -> None:
    """What registering a model first pays, done ahead (`airfoil run` calls it in a background
    thread while training runs in worker processes): import MLflow, open the tracking store (its
    SQLAlchemy models, the schema check), and build the module -> distribution map MLflow reads when
    it checks a model's pip requirements against what is installed."""
    client(settings).search_experiments(max_results=1)
    import mlflow.sklearn  # noqa: F401  (log_model's flavor)

    with contextlib.suppress(Exception):  # private to MLflow: only a warm-up, skipped if it moves
        from mlflow.utils import requirements_utils

        requirements_utils._init_packages_to_modules_map()


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
