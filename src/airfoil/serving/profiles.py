"""Profiles of the rows the API scores: a request only appends its (already parsed) columns and
predictions to a list; a background thread counts them per model version in the version's reference
bins every few seconds and stores one profile per version and flush. A request never waits on it.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from typing import Any

import numpy as np

from airfoil.monitor.reference import references
from airfoil.registry.loaded import LoadedModel
from airfoil.settings import Settings
from airfoil.store import open_store
from airfoil.store.monitoring import add_profile
from airfoil.store.schema import ProfileSource

log = logging.getLogger("airfoil.serving")

_Key = tuple[str, int, str, str]  # name, version, reference uri, reference sha256


class LiveProfiles:
    """Scored rows waiting to be counted, per served version; `flush` counts and stores them."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.worker = uuid.uuid4().hex[:12]  # profile keys of this process: api:<worker>:<n>
        self._pending: dict[_Key, list[tuple[dict[str, Any], list[Any]]]] = {}
        self._lock = threading.Lock()
        self._flushes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, model: LoadedModel, values: dict[str, Any], labels: list[Any]) -> None:
        """Keep one request's columns and predictions for the next flush (the hot path: one append)."""
        if model.reference is None or model.version is None or not self.settings.api_profiles:
            return
        key = (model.name, model.version, *model.reference)
        with self._lock:
            self._pending.setdefault(key, []).append((values, labels))

    def start(self) -> None:
        if not self.settings.api_profiles:
            return
        self._thread = threading.Thread(target=self._run, name="airfoil-profiles", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.monitor_flush_seconds):
            try:
                self.flush()
            except Exception:  # the store is down: these rows are not counted; serving goes on
                log.exception("airfoil: could not store the API's profiles")

    def flush(self) -> int:
        """Count and store what arrived since the last flush; the rows stored."""
        with self._lock:
            pending, self._pending = self._pending, {}
        stored = 0
        for (name, version, uri, digest), items in pending.items():
            reference = references.get(uri, digest)
            values = {c: _concat([v[c] for v, _ in items]) for c in reference.bins}
            labels = list(itertools.chain.from_iterable(labels for _, labels in items))
            profile = reference.profile_chunk(values, labels)
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


def _concat(parts: list[Any]) -> Any:
    """One column from many requests: float arrays joined in C, text lists chained."""
    if parts and isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return np.asarray(list(itertools.chain.from_iterable(parts)), dtype=object)
