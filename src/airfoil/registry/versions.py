"""Read the registry: list versions, find the champion, load a version safely (sha256 + skops)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airfoil.artifacts import io, modelfile
from airfoil.errors import DataError, RegistryError, UnsafeModelError
from airfoil.registry.client import CHAMPION, HISTORY_TAG, client
from airfoil.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient


def no_model(name: str) -> RegistryError:
    """The error of a model name the registry does not know."""
    return RegistryError(f"no registered model named {name!r}; has its train DAG run?")


def no_champion(name: str) -> DataError:
    """The error of a model without a champion to score with."""
    return DataError(
        f"model {name!r} has no champion to score with; train and promote one first "
        f"(airfoil run <spec>, or airfoil models promote {name} VERSION)"
    )


def registered(c: MlflowClient, name: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return c.get_registered_model(name)
    except MlflowException:
        raise no_model(name) from None


def get_version(c: MlflowClient, name: str, version: int | str) -> Any:
    from mlflow.exceptions import MlflowException

    registered(c, name)
    try:
        return c.get_model_version(name, str(version))
    except MlflowException:
        raise RegistryError(
            f"model {name!r} has no version {version}; see `airfoil models list {name}`"
        ) from None


def champion_version(c: MlflowClient, name: str) -> int | None:
    """The version the `champion` alias points at, or None."""
    aliases = registered(c, name).aliases or {}
    v = aliases.get(CHAMPION)
    return int(v) if v is not None else None


def champion_history(c: MlflowClient, name: str) -> list[int]:
    """The versions that held `champion`, oldest first (the last 50)."""
    raw = (registered(c, name).tags or {}).get(HISTORY_TAG)
    return [int(v) for v in json.loads(raw)] if raw else []


def pipelines(settings: Settings) -> list[str]:
    """The names of every registered model (one per trained pipeline), sorted."""
    return sorted(rm.name for rm in client(settings).search_registered_models())


def require_champion(settings: Settings, name: str) -> int:
    """The champion version of `name`; a clear error when there is none to score with."""
    version = champion_version(client(settings), name)
    if version is None:
        raise no_champion(name)
    return version


def describe(mv: Any, aliases: list[str]) -> dict[str, Any]:
    """One version as the CLI's JSON shows it."""
    tags = mv.tags or {}
    gate = tags.get("gate_passed")
    return {
        "version": int(mv.version),
        "aliases": aliases,
        "metrics": json.loads(tags.get("test_metrics", "{}")),
        "status": mv.status,
        "dataset_fingerprint": tags.get("dataset_fingerprint"),
        "created_at": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(),
        "promoted": {
            "passed": None if gate is None else gate == "true",
            "reason": tags.get("gate_reason", "not yet gated"),
            "at": tags.get("gate_at"),
        },
        "run_id": mv.run_id,
        "estimator": tags.get("estimator"),
        "airflow": {"dag_id": tags.get("airflow_dag_id"), "run_id": tags.get("airflow_run_id")},
        "sha256": tags.get("sha256"),
        "onnx": tags.get("onnx"),
        "onnx_reason": tags.get("onnx_parity"),
        "served_by": served_by(tags.get("onnx"), tags.get("onnx_parity")),
    }


def served_by(onnx: str | None, reason: str | None) -> str:
    """What predicts for a version, from its `onnx` / `onnx_parity` tags, with the reason when it is
    not ONNX Runtime: `scikit-learn (no ONNX: SVR: no ONNX converter for ...)`."""
    if onnx == "verified":
        return "ONNX Runtime"
    if onnx == "mismatch":
        return f"scikit-learn (ONNX mismatch: {reason})"
    if onnx == "unsupported":
        return f"scikit-learn (no ONNX: {reason})"
    return "scikit-learn (no ONNX export recorded)"


def list_versions(settings: Settings, name: str) -> list[dict[str, Any]]:
    """Every version of model `name`, newest first."""
    c = client(settings)
    rm = registered(c, name)
    by_version: dict[str, list[str]] = {}
    for alias, v in (rm.aliases or {}).items():
        by_version.setdefault(str(v), []).append(alias)
    versions = c.search_model_versions(f"name = '{name}'")
    return [
        describe(mv, sorted(by_version.get(str(mv.version), [])))
        for mv in sorted(versions, key=lambda m: -int(m.version))
    ]


def load_version(
    settings: Settings, name: str, version: int | str, *, deserialize: bool = True
) -> tuple[Any, dict[str, Any]]:
    """Load a version's model after checking its sha256 against the registry tag.

    With `deserialize=False` the skops file is read and checked but not turned into objects (the
    model is None): the caller serves the version's verified ONNX graph and loads the model only
    if it has to (`info["model_ref"]`). Pickle artifacts are refused unless AIRFOIL_ALLOW_PICKLE=1.
    """
    c = client(settings)
    mv = get_version(c, name, version)
    expected = (mv.tags or {}).get("sha256")
    location = c.get_model_version_download_uri(name, str(version)).rstrip("/")
    ref = {"uri": f"{location}/model.skops", "sha256": expected or ""}
    if io.exists(ref["uri"]):
        if not expected:
            raise UnsafeModelError(f"{name} v{version} has no sha256 tag; it was not registered by airfoil")
        model = None
        if deserialize:
            model = modelfile.load(ref)
        else:  # checked now, so a changed file is refused even if only its ONNX graph is served
            io.read_bytes(ref["uri"], expected)
    elif io.exists(f"{location}/model.pkl"):
        if not settings.allow_pickle:
            raise UnsafeModelError(
                f"{name} v{version} is stored as pickle, which can run code when loaded; "
                "re-register it with airfoil (skops) or set AIRFOIL_ALLOW_PICKLE=1 if you trust it"
            )
        import pickle

        # Allowed explicitly by the operator; the sha256 is still checked when the tag exists.
        model = pickle.loads(io.read_bytes(f"{location}/model.pkl", expected))
    else:
        raise UnsafeModelError(f"{name} v{version} has no model.skops (or model.pkl) artifact at {location}")
    example = _input_example(location)
    return model, {
        "version": int(mv.version),
        "location": location,
        "input_example": example,
        "tags": dict(mv.tags or {}),
        "model_ref": ref,
    }


def _input_example(location: str) -> Any:
    from airfoil.registry.card import example_frame

    uri = f"{location}/input_example.json"
    return example_frame(io.read_json(uri)) if io.exists(uri) else None
