"""The reference a model is monitored against: its bins (how current rows are counted) and the
train split's counts in those bins; made at registration, stored next to the model with its sha256.

`Reference.profile(...)` counts one scored chunk: what batch scoring, `airfoil predict`, the API
and transient requests call with the rows they already hold.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from airfoil.artifacts import io
from airfoil.monitor.profile import PROFILE_ROWS, SAMPLE, Bins, Hist, Profile


@dataclass
class Reference:
    """Bins per input column and for the predictions, and the reference's own counts in them."""

    task: str
    bins: dict[str, Bins]
    prediction_bins: Bins
    profile: Profile  # the train split (inputs) and test-split predictions; numeric samples kept

    @property
    def rows(self) -> int:
        return self.profile.rows

    def profile_chunk(
        self, values: dict[str, Any], predictions: Any, rejected: int = 0, rows: int | None = None
    ) -> Profile:
        """Count one chunk of scored rows (`values`: column -> good rows' values; `predictions`:
        their labels or values) in these bins. Small chunks keep their raw numeric values; chunks
        over `PROFILE_ROWS` rows are counted on a systematic sample of that many (every k-th row),
        which keeps the cost a few percent of scoring and the tests more than enough rows. `rows`:
        how many scored rows these stand for, when the caller sampled them already (the API)."""
        n = len(predictions)
        take = _systematic(n)
        columns = {
            name: b.count(_rows(values[name], take), keep_values=True) for name, b in self.bins.items()
        }
        counted = self.prediction_bins.count(_rows(predictions, take), keep_values=True)
        return Profile(n if rows is None else rows, columns, counted, rejected)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "bins": {k: b.to_json() for k, b in self.bins.items()},
            "prediction_bins": self.prediction_bins.to_json(),
            "profile": self.profile.to_json(),
        }

    def dumps(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def loads(cls, raw: bytes | str) -> Reference:
        data = json.loads(raw)
        return cls(
            data["task"],
            {k: Bins.from_json(k, b) for k, b in data["bins"].items()},
            Bins.from_json("prediction", data["prediction_bins"]),
            Profile.from_json(data["profile"]),
        )


def build_reference(
    train: Any, columns: list[dict[str, Any]], task: str, test_predictions: Any, seed: int = 0
) -> Reference:
    """The reference of a model: `train` (a DataFrame of its input columns), the input schema
    ({name, type}; number -> numeric bins, anything else -> categories), the test-split predictions."""
    rng = np.random.default_rng(seed)
    bins = {
        c["name"]: Bins.fit(
            c["name"], "numeric" if c["type"] == "number" else "categorical", train[c["name"]]
        )
        for c in columns
    }
    counted = {}
    for name, b in bins.items():
        column = train[name]
        if b.kind == "numeric":
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = column.to_numpy(dtype=object)
        hist = b.count(values)
        if b.kind == "numeric":
            hist.values = _sample(values, rng)
        counted[name] = hist
    kind = "categorical" if task == "classification" else "numeric"
    predictions = np.asarray(test_predictions, dtype=object if kind == "categorical" else np.float64)
    prediction_bins = Bins.fit("prediction", kind, predictions)
    prediction = prediction_bins.count(predictions)
    if kind == "numeric":
        prediction.values = _sample(predictions, rng)
    return Reference(task, bins, prediction_bins, Profile(len(train), counted, prediction))


def _systematic(n: int) -> np.ndarray | None:
    """Rows 0, k, 2k, ... (PROFILE_ROWS of them) of a chunk of n rows; None: every row."""
    if n <= PROFILE_ROWS:
        return None
    return np.arange(PROFILE_ROWS, dtype=np.int64) * n // PROFILE_ROWS


def _rows(values: Any, take: np.ndarray | None) -> Any:
    if take is None:
        return values
    return np.asarray(values)[take]


def _sample(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = x[~np.isnan(x)]
    return x if len(x) <= SAMPLE else rng.choice(x, SAMPLE, replace=False)


def write_reference(uri: str, reference: Reference) -> str:
    """Write the reference to `uri`; its sha256."""
    return io.write_bytes(uri, reference.dumps())


class References:
    """References read by (uri, sha256), checked once and kept: every scorer of a version shares one."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], Reference] = {}
        self._lock = threading.Lock()

    def get(self, uri: str, sha256: str) -> Reference:
        key = (uri, sha256)
        with self._lock:
            found = self._found.get(key)
        if found is None:
            found = Reference.loads(io.read_bytes(uri, sha256))
            with self._lock:
                self._found[key] = found
        return found


references = References()


def empty_like(reference: Reference) -> Profile:
    """A profile of no rows in the reference's bins."""
    zero = {k: Hist(np.zeros(b.size, dtype=np.int64)) for k, b in reference.bins.items()}
    return Profile(0, zero, Hist(np.zeros(reference.prediction_bins.size, dtype=np.int64)))
