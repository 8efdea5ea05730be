"""Profiles of the rows the API scores. A request adds its row count and, one request in k, keeps
its (already parsed) columns and predictions; a background thread counts the kept rows per model
version in the version's reference bins every few seconds and stores one profile per version and
flush. k follows the traffic so that about `FLUSH_ROWS` rows are kept per flush: memory stays
bounded and nothing piles up for the flush to free at once. A request never waits on the counting.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from airfoil.artifacts.features import Features
from airfoil.monitor.reference import references
from airfoil.registry.loaded import LoadedModel
from airfoil.settings import Settings
from airfoil.store import open_store
from airfoil.store.monitoring import add_profile
from airfoil.store.schema import ProfileSource

log = logging.getLogger("airfoil.serving")

FLUSH_ROWS = 256  # rows counted per flush and version (5 s at 1,000 req/s: one request in twenty)
_Key = tuple[str, int, str, str]  # name, version, reference uri, reference sha256


class _Window:
    """What one version's requests left since the last flush."""

    def __init__(self, every: int):
        self.every = every  # keep one request in `every`
        self.rows = 0  # every scored row, kept or not
        self.seen = 0
        self.kept: list[tuple[Mapping[str, Any], list[Any]]] = []
        self.kept_rows = 0

    def add(self, values: Mapping[str, Any], labels: list[Any]) -> None:
        self.rows += len(labels)
        self.seen += 1
        # More traffic than the last flush saw: stop keeping at 2x (freeing here would cost the request).
        if self.seen % self.every == 0 and self.kept_rows < 2 * FLUSH_ROWS:
            self.kept.append((values, labels))
            self.kept_rows += len(labels)


class LiveProfiles:
    """Scored rows waiting to be counted, per served version; `flush` counts and stores them."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.enabled = settings.api_profiles
        self.worker = uuid.uuid4().hex[:12]  # profile keys of this process: api:<worker>:<n>
        self._pending: dict[_Key, _Window] = {}
        self._every: dict[_Key, int] = {}  # the sampling step each version's traffic called for
        self._lock = threading.Lock()
        self._flushes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, model: LoadedModel, values: Mapping[str, Any], labels: list[Any]) -> None:
        """Count one request's rows; keep its columns and predictions if it is the k-th (the hot path)."""
        if model.reference is None or model.version is None or not self.enabled:
            return
        key = (model.name, model.version, *model.reference)
        with self._lock:
            window = self._pending.get(key)
            if window is None:
                window = self._pending[key] = _Window(self._every.get(key, 1))
            window.add(values, labels)

    def start(self) -> None:
        """Open the store now (its schema check imports Alembic: not in the middle of serving)."""
        if not self.settings.api_profiles:
            return
        open_store(self.settings)
        self._thread = threading.Thread(target=self._run, name="airfoil-profiles", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and store what is left (a server shutting down loses no counted rows)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.flush()
        except Exception:
            log.exception("airfoil: could not store the API's last profiles")

    def _run(self) -> None:
        while not self._stop.wait(self.settings.monitor_flush_seconds):
            try:
                self.flush()
            except Exception:  # the store is down: these rows are not counted; serving goes on
                log.exception("airfoil: could not store the API's profiles")

    def flush(self) -> int:
        """Count the kept rows and store one profile per version; the rows it stands for."""
        with self._lock:
            pending, self._pending = self._pending, {}
        stored = 0
        for key, window in pending.items():
            name, version, uri, digest = key
            self._every[key] = max(1, -(-window.rows // FLUSH_ROWS))
            if not window.kept:
                continue
            reference = references.get(uri, digest)
            values = _columns([v for v, _ in window.kept], reference.bins)
            labels = list(itertools.chain.from_iterable(labels for _, labels in window.kept))
            profile = reference.profile_chunk(values, labels, rows=window.rows)
            self._flushes += 1
            add_profile(
                open_store(self.settings),
                {
                    "pipeline": name,
                    "profile_key": f"api:{self.worker}:{self._flushes}",
                    "reference": digest,
                    "model_version": version,
                    "source": ProfileSource.api.value,
                    "batch_id": None,
                    "rows": profile.rows,
                    "scored_at": time.time(),
                    "profile": profile.dumps(),
                },
            )
            stored += profile.rows
        return stored


def _columns(kept: list[Mapping[str, Any]], names: Iterable[str]) -> dict[str, Any]:
    """Each column's values over the kept requests. Checked rows (`Features`, one model's) are joined
    in one call, their number columns then views; 30 columns of 512 one-row requests joined one by one
    cost ~11 ms of CPU holding the GIL the event loop needs, in one call ~0.3 ms."""
    checked = [v for v in kept if isinstance(v, Features)]
    if kept and len(checked) == len(kept):
        joined = Features.concat(checked)
        return {name: _concat([joined[name]]) for name in names}
    values = {}
    for name in names:
        values[name] = _concat([v[name] for v in kept])
        time.sleep(0)  # hand the GIL to the event loop between columns
    return values


def _concat(parts: list[Any]) -> Any:
    """One column from many requests: float arrays joined in C, text lists chained."""
    if parts and isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return np.asarray(list(itertools.chain.from_iterable(parts)), dtype=object)
