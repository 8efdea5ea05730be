"""Everything a model report shows, read from where it already lives: the registry (versions, gate
decisions, champion history, the diagnostics stored at training) and the prediction store (monitor
runs). The result is plain JSON, so the HTML page, the API and the Airflow view share it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from airfoil.artifacts import io
from airfoil.errors import RegistryError
from airfoil.registry.client import client
from airfoil.registry.versions import champion_history, get_version, list_versions, pipelines
from airfoil.settings import Settings
from airfoil.spec.model import REGRESSION_METRICS
from airfoil.store import open_store
from airfoil.store.monitoring import monitor_history

WINDOWS = 100  # monitor runs drawn over time


def gather(settings: Settings, name: str, version: int | None = None) -> dict[str, Any]:
    """The report of `name` at `version` (default: the champion, else the newest version)."""
    versions = list_versions(settings, name)
    if not versions:
        raise RegistryError(f"model {name!r} has no versions yet; run its train DAG first")
    champion = next((v["version"] for v in versions if "champion" in v["aliases"]), None)
    chosen = version if version is not None else champion or versions[0]["version"]
    current = next((v for v in versions if v["version"] == chosen), None)
    if current is None:
        known = ", ".join(str(v["version"]) for v in versions)
        raise RegistryError(f"model {name!r} has no version {chosen}; its versions are {known}")
    c = client(settings)
    tags = dict(get_version(c, name, chosen).tags or {})
    runs = monitor_history(open_store(settings), name, chosen, limit=WINDOWS)
    diagnostics = _diagnostics(tags)
    return {
        "name": name,
        "version": chosen,
        "champion": champion,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "current": current,
        "task": (diagnostics or {}).get("task") or _task(tags),
        "metric": tags.get("selection_metric"),
        "diagnostics": diagnostics,
        "versions": versions,
        "history": champion_history(c, name),
        "monitor": list(reversed(runs)),  # oldest first
        "links": links(settings, name, c),
    }


def overview(settings: Settings, **link_overrides: Any) -> list[dict[str, Any]]:
    """Every pipeline in the registry: its champion, versions and their metrics, champion history, and
    the last monitor run (for the Airflow Models view, whose Airflow links stay on its own server)."""
    store = open_store(settings)
    c = client(settings)
    out = []
    for name in pipelines(settings):
        versions = list_versions(settings, name)
        champion = next((v["version"] for v in versions if "champion" in v["aliases"]), None)
        last = monitor_history(store, name, None, limit=1)
        out.append(
            {
                "name": name,
                "champion": champion,
                "versions": versions,
                "history": champion_history(c, name),
                "monitor": last[0] if last else None,
                "links": {**links(settings, name, c), **link_overrides},
            }
        )
    return out


def links(settings: Settings, name: str, c: Any = None) -> dict[str, Any]:
    """Where the MLflow runs and the Airflow DAG runs of `name` can be opened (None: no UI known)."""
    mlflow = settings.mlflow_ui_url or (
        settings.tracking_uri if settings.tracking_uri.startswith(("http://", "https://")) else None
    )
    experiment = None
    if mlflow:
        exp = (c or client(settings)).get_experiment_by_name(name)
        experiment = exp.experiment_id if exp is not None else None
    return {
        "mlflow": mlflow.rstrip("/") if mlflow else None,
        "experiment": experiment,
        "airflow": settings.airflow_ui_url.rstrip("/") if settings.airflow_ui_url else None,
        "tracking_uri": settings.tracking_uri,
    }


def _task(tags: dict[str, str]) -> str:
    metric = tags.get("selection_metric", "")
    return "regression" if metric in REGRESSION_METRICS else "classification"


def _diagnostics(tags: dict[str, str]) -> dict[str, Any] | None:
    """The curves, residuals and permutation importance stored with the version (None before 0.2)."""
    uri, digest = tags.get("diagnostics_uri"), tags.get("diagnostics_sha256")
    if not uri or not io.exists(uri):
        return None
    data: dict[str, Any] = json.loads(io.read_bytes(uri, digest))
    return data
