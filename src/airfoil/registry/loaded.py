"""A model ready to predict: a registered version loaded with every sha256 checked, or a model just
trained in memory (transient). Batch scoring, the prediction API and the gate's smoke test share it.

`LoadedModel.predict_arrays` runs the verified ONNX graph when the version has one, scikit-learn
otherwise. The API loads its graphs with grouped inputs (`artifacts.onnx_inputs`: one [n, k] input
per type group, fed from `Features` without a copy per column). `ModelCache` keeps a few loaded
versions, least recently used out first.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airfoil.artifacts import io, modelfile, onnx, onnx_inputs
from airfoil.artifacts.features import Features
from airfoil.errors import RegistryError
from airfoil.registry.card import example_columns, model_card
from airfoil.registry.versions import load_version

if TYPE_CHECKING:
    from airfoil.settings import Settings

log = logging.getLogger("airfoil.registry")


@dataclass
class LoadedModel:
    """One model. Immutable once built: a swap replaces the whole object."""

    name: str
    version: int | None  # None: trained in memory for one transient request, never registered
    task: str
    columns: list[dict[str, Any]]  # {"name", "type": number|string, "nullable"}
    classes: list[Any]
    backend: str  # "onnx" or "sklearn"
    metrics: dict[str, float]
    reference: tuple[str, str] | None = None  # (uri, sha256) of the monitor's reference profile
    since: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    _model: Any = None
    _session: Any = None
    _grouped: bool = False  # the session takes onnx_inputs' grouped inputs, not one per column
    _run: Any = field(init=False)  # feeds -> every output of the session
    _columns: list[tuple[str, str]] = field(init=False)  # (name, type) pairs for the hot path
    _names: list[str] = field(init=False)
    kinds: dict[str, str] = field(init=False)  # column -> number | string
    # Every column a number column: where each is in `Features.numbers` (else None).
    number_index: dict[str, int] | None = field(init=False)

    def __post_init__(self) -> None:
        self._columns = [(c["name"], c["type"]) for c in self.columns]
        self._names = [name for name, _ in self._columns]
        self.kinds = dict(self._columns)
        numeric = all(kind == "number" for _, kind in self._columns)
        self.number_index = Features.index(self._names) if numeric else None
        self._run = None if self._session is None else _runner(self._session)

    @classmethod
    def from_estimator(
        cls, name: str, task: str, columns: list[dict[str, Any]], metrics: dict[str, float], estimator: Any
    ) -> LoadedModel:
        """A fitted scikit-learn pipeline held in memory only (a transient model)."""
        classes = [c.item() if hasattr(c, "item") else c for c in getattr(estimator, "classes_", [])]
        return cls(name, None, task, columns, classes, "sklearn", metrics, _model=estimator)

    @property
    def column_names(self) -> list[str]:
        """The input columns in the model's order (a copy: callers may extend it)."""
        return list(self._names)

    def predict(self, values: Mapping[str, Any]) -> tuple[list[Any], list[list[float]] | None]:
        """Predictions (and class probabilities) for columns of equal length."""
        labels, proba = self.predict_arrays(values)
        return labels.tolist(), None if proba is None else proba.tolist()

    def predict_arrays(self, values: Mapping[str, Any]) -> tuple[Any, Any]:
        """numpy labels [n] and class probabilities [n, classes] (None for regression); `values`:
        {column: values} or `Features`."""
        if self._session is not None:
            if self._grouped:
                out = self._run(onnx_inputs.grouped_feeds(Features.from_columns(values, self._columns)))
            else:
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


def load_model(settings: Settings, name: str, version: int, grouped: bool = False) -> LoadedModel:
    """Load and check a version: sha256 of every artifact, then a smoke prediction of its input example.

    `grouped`: build an ONNX session with grouped inputs (the API's; it imports `onnx`, 0.25 s).
    """
    card = model_card(settings, name, version)
    if card is not None:
        return load_card(card, grouped)
    # A pickled model (allowed by AIRFOIL_ALLOW_PICKLE), or one registered before airfoil kept its
    # serving metadata: loaded through the registry.
    model, info = load_version(settings, name, version)
    example = info["input_example"]
    columns = [{"name": str(c), "type": onnx.input_kind(example[c].dtype), "nullable": True} for c in example]
    classes = [c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])]
    loaded = LoadedModel(
        name=name,
        version=int(version),
        task="classification" if classes else "regression",
        columns=columns,
        classes=classes,
        backend="sklearn",
        metrics=json.loads(info["tags"].get("test_metrics", "{}")),
        _model=model,
    )
    _smoke(loaded, None if example is None else {c: example[c].tolist() for c in example})
    return loaded


def load_card(card: dict[str, Any], grouped: bool = False) -> LoadedModel:
    """The model a card describes, from the artifact store alone (no MLflow): the serving metadata and
    the ONNX graph (or the skops file) read with their sha256 checked, then a smoke prediction."""
    tags = card["tags"]
    meta = io.read_json(tags["serving_uri"], tags.get("serving_sha256"))
    report = meta["onnx"]
    model = session = None
    if report.get("status") == "verified":
        session, grouped = _session(io.read_bytes(report["uri"], report["sha256"]), meta["columns"], grouped)
    else:
        model = modelfile.load(card["model_ref"])
    loaded = LoadedModel(
        name=card["name"],
        version=int(card["version"]),
        task="classification" if meta["classes"] else "regression",
        columns=meta["columns"],
        classes=meta["classes"],
        backend="onnx" if session is not None else "sklearn",
        metrics=json.loads(tags.get("test_metrics", "{}")),
        reference=(tags["profile_uri"], tags["profile_sha256"]) if tags.get("profile_uri") else None,
        _model=model,
        _session=session,
        _grouped=grouped and session is not None,
    )
    _smoke(loaded, example_columns(card["example"]))
    return loaded


def _runner(session: Any) -> Any:
    """`session.run` with every output, for feeds built to the session's inputs. It calls ONNX
    Runtime's C session directly when it is there: the Python wrapper checks the feeds against the
    inputs and the graph capture mode on every call (4 µs, a tenth of a one-row prediction)."""
    outputs = [o.name for o in session.get_outputs()]
    inner = getattr(session, "_sess", None)
    if inner is None or not hasattr(inner, "run"):
        return lambda feeds: session.run(outputs, feeds)
    run = inner.run
    return lambda feeds: run(outputs, feeds, None)


def _session(graph: bytes, columns: list[dict[str, Any]], grouped: bool) -> tuple[Any, bool]:
    """An ONNX Runtime session of the verified graph (already checked against its sha256), with
    grouped inputs when asked and the graph allows it; and whether it has them."""
    import onnxruntime as ort

    if grouped:
        try:
            graph = onnx_inputs.group_inputs(graph, [(c["name"], c["type"]) for c in columns])
        except ValueError as exc:  # a graph of another shape: fed one column at a time
            log.warning("airfoil: feeding the ONNX graph one column at a time: %s", exc)
            grouped = False
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # one request is small; parallelism comes from workers
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"]), grouped


def _smoke(model: LoadedModel, example: dict[str, list[Any]] | None) -> None:
    """Predict the version's input example (columns of plain values); it must answer every row."""
    if not example:
        raise RegistryError(f"{model.name} v{model.version} has no input example to smoke-test")
    missing = [c for c in model.column_names if c not in example]
    if missing:
        raise RegistryError(f"{model.name} v{model.version}: its input example lacks columns {missing}")
    values = {c: example[c] for c in model.column_names}
    rows = len(values[model.column_names[0]]) if values else 0
    labels, _ = model.predict(values)
    if len(labels) != rows:
        raise RegistryError(f"{model.name} v{model.version}: smoke prediction returned {len(labels)} rows")


class ModelCache:
    """Loaded versions by (registry, name, version); beyond `size`, the least recently used is dropped."""

    def __init__(self, size: int = 4):
        self.size = size
        self._models: OrderedDict[tuple[str, str, int], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, settings: Settings, name: str, version: int) -> LoadedModel | None:
        """The version if it is loaded already; never calls the registry."""
        key = (settings.registry_uri, name, version)
        with self._lock:
            found = self._models.get(key)
            if found is not None:
                self._models.move_to_end(key)
            return found

    def put(self, settings: Settings, model: LoadedModel) -> None:
        assert model.version is not None, "only registered versions are cached"
        with self._lock:
            self._models[(settings.registry_uri, model.name, model.version)] = model
            while len(self._models) > self.size:
                self._models.popitem(last=False)

    def get(self, settings: Settings, name: str, version: int) -> LoadedModel:
        """The version, loaded (and checked) on first use."""
        found = self.peek(settings, name, version)
        if found is None:
            found = load_model(settings, name, version)
            self.put(settings, found)
        return found

    def get_card(self, settings: Settings, card: dict[str, Any]) -> LoadedModel:
        """The version a card describes, loaded from the artifact store on first use (no registry call)."""
        found = self.peek(settings, card["name"], int(card["version"]))
        if found is None:
            found = load_card(card)
            self.put(settings, found)
        return found


# The versions this process scored with lately: a batch run in one process (`airfoil run`,
# `airfoil predict`) loads its champion once for all of its blocks.
process_models = ModelCache(size=4)
