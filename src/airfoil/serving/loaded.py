"""A model version ready to answer: verified artifacts, its input schema, ONNX or scikit-learn predictor."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airfoil.errors import RegistryError
from airfoil.registry import onnx
from airfoil.registry.versions import load_version
from airfoil.settings import Settings
from airfoil.steps import io, modelfile

log = logging.getLogger("airfoil.serving")


@dataclass
class Served:
    """One loaded version. Immutable once built: a swap replaces the whole object."""

    name: str
    version: int
    task: str
    columns: list[dict[str, Any]]  # {"name", "type": number|string, "nullable"}
    classes: list[Any]
    backend: str  # "onnx" or "sklearn"
    metrics: dict[str, float]
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    _model: Any = None
    _session: Any = None
    _columns: list[tuple[str, str]] = field(init=False)  # (name, type) pairs for the hot path

    def __post_init__(self) -> None:
        self._columns = [(c["name"], c["type"]) for c in self.columns]

    @property
    def column_names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    def predict(self, values: dict[str, Any]) -> tuple[list[Any], list[list[float]] | None]:
        """Predictions (and class probabilities) for columns of equal length."""
        labels, proba = self.predict_arrays(values)
        return labels.tolist(), None if proba is None else proba.tolist()

    def predict_arrays(self, values: dict[str, Any]) -> tuple[Any, Any]:
        """numpy labels [n] and class probabilities [n, classes] (None for regression)."""
        if self._session is not None:
            out = self._session.run(None, onnx.feeds(self._columns, values))
            proba = out[1] if len(out) > 1 and self.task == "classification" else None
            return out[0].ravel(), proba
        import pandas as pd

        frame = pd.DataFrame(
            {
                c: pd.Series(values[c], dtype="float64" if kind == "number" else "object")
                for c, kind in self._columns
            }
        )
        labels = self._model.predict(frame)
        proba = self._model.predict_proba(frame) if hasattr(self._model, "predict_proba") else None
        return labels, proba


def load_served(settings: Settings, name: str, version: int) -> Served:
    """Load and check a version: sha256 of every artifact, then a smoke prediction of its input example."""
    # The model file's sha256 is checked here; it is only deserialized (skops: seconds of imports)
    # when there is no verified ONNX graph to serve.
    model, info = load_version(settings, name, version, deserialize=False)
    tags = info["tags"]
    example = info["input_example"]
    if tags.get("serving_uri"):
        meta = io.read_json(tags["serving_uri"], tags.get("serving_sha256"))
        columns, classes, report = meta["columns"], meta["classes"], meta["onnx"]
    else:  # registered before serving metadata existed: schema from the input example
        columns = [
            {"name": str(c), "type": onnx.input_kind(example[c].dtype), "nullable": True} for c in example
        ]
        if model is None:
            model = modelfile.load(info["model_ref"])
        classes = [c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])]
        report = {"status": "absent"}
    session = None
    if report.get("status") == "verified":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # one request is small; parallelism comes from workers
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(
            io.read_bytes(report["uri"], report["sha256"]), opts, providers=["CPUExecutionProvider"]
        )
    if session is None and model is None:
        model = modelfile.load(info["model_ref"])
    served = Served(
        name=name,
        version=int(version),
        task="classification" if classes else "regression",
        columns=columns,
        classes=classes,
        backend="onnx" if session is not None else "sklearn",
        metrics=json.loads(tags.get("test_metrics", "{}")),
        _model=model,
        _session=session,
    )
    _smoke(served, example)
    return served


def _smoke(served: Served, example: Any) -> None:
    if example is None:
        raise RegistryError(f"{served.name} v{served.version} has no input example to smoke-test")
    values = {c: example[c].tolist() for c in served.column_names}
    labels, _ = served.predict(values)
    if len(labels) != len(example):
        raise RegistryError(f"{served.name} v{served.version}: smoke prediction returned {len(labels)} rows")
