"""A version's card: what loading it takes, read from the registry once. The artifact URIs with their
sha256 (the model file, the serving metadata that names the ONNX graph, the monitor's reference),
the test metrics and the input example. With a card, a process loads the model from the artifact
store alone and never imports MLflow: the batch DAG's `champion` task hands one to every mapped
`score` task, which on a cluster is a new process per block (`registry.loaded.load_card`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airfoil.artifacts import io
from airfoil.registry.versions import load_version

if TYPE_CHECKING:
    from airfoil.settings import Settings

CARD_TAGS = ("serving_uri", "serving_sha256", "test_metrics", "profile_uri", "profile_sha256")


def model_card(settings: Settings, name: str, version: int) -> dict[str, Any] | None:
    """The card of `name` `version` (its model file's sha256 checked now), or None when the version
    cannot be loaded without the registry: a pickled model, or no serving metadata."""
    _, info = load_version(settings, name, version, deserialize=False)
    return card_from(name, version, info["location"], info["tags"])


def card_from(name: str, version: int, location: str, tags: dict[str, str]) -> dict[str, Any] | None:
    """The card of a version stored at `location` with `tags` (the model file's sha256 checked now),
    or None when it has no serving metadata, no skops file or no input example."""
    location = location.rstrip("/")
    ref = {"uri": f"{location}/model.skops", "sha256": tags.get("sha256", "")}
    example_uri = f"{location}/input_example.json"
    try:
        files = io.exists(ref["uri"]) and io.exists(example_uri)
        if not (tags.get("serving_uri") and ref["sha256"] and files):
            return None
    except ValueError:  # a location fsspec cannot read (models:/, mlflow-artifacts:/): ask the registry
        return None
    io.read_bytes(ref["uri"], ref["sha256"])  # a changed file is refused even if only ONNX is served
    return {
        "name": name,
        "version": int(version),
        "model_ref": ref,
        "tags": {k: tags[k] for k in CARD_TAGS if k in tags},
        "example": io.read_json(example_uri),
    }


def example_frame(raw: Any) -> Any:
    """The input example as MLflow logged it ({"columns", "data"} or records), as a DataFrame."""
    import pandas as pd

    if isinstance(raw, dict) and "columns" in raw:
        return pd.DataFrame(raw["data"], columns=raw["columns"])
    return pd.DataFrame(raw)


def example_columns(raw: Any) -> dict[str, list[Any]]:
    """The input example as columns of plain values, without pandas (a score task's cold start)."""
    if isinstance(raw, dict) and "columns" in raw:
        return {str(c): [row[i] for row in raw["data"]] for i, c in enumerate(raw["columns"])}
    if isinstance(raw, list):  # records
        names = list(raw[0]) if raw else []
        return {str(c): [row.get(c) for row in raw] for c in names}
    return {str(c): list(v.values()) if isinstance(v, dict) else list(v) for c, v in raw.items()}
