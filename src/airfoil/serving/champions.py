"""The models the API answers with: the champion of every pipeline, swapped in when its alias
moves, and a few versions asked for by number.

A swap builds a new dict and replaces the reference in one assignment: a request reads the
reference once, so it finishes on the version it started with, and never sees a half-loaded one.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
from typing import Any

from airfoil.monitor.reference import references
from airfoil.registry.loaded import LoadedModel, ModelCache, load_model
from airfoil.serving.metrics import Metrics
from airfoil.serving.poller import champion_aliases, watch
from airfoil.settings import Settings

log = logging.getLogger("airfoil.serving")


class Champions:
    """Champions by name, plus a few versions asked for explicitly (`pinned`)."""

    def __init__(self, settings: Settings, metrics: Metrics, pinned_max: int = 4):
        self.settings = settings
        self.metrics = metrics
        self.champions: dict[str, LoadedModel] = {}
        self.failures: dict[tuple[str, int], str] = {}  # versions that failed to load: not retried
        self.ready = False
        self.pinned = ModelCache(size=pinned_max)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watcher: Any = None
        self._queue: Any = None

    def start(self) -> None:
        """Load every champion now, then follow the aliases a child process watches."""
        aliases = champion_aliases(self.settings)
        self.apply(aliases)
        self.ready = True
        context = multiprocessing.get_context("spawn")
        self._queue = context.Queue()
        self._watcher = context.Process(
            target=watch,
            args=(self.settings, self._queue, os.getpid(), aliases),
            daemon=True,
            name="airfoil-registry-watch",
        )
        self._watcher.start()
        self._thread = threading.Thread(target=self._follow, name="airfoil-swap", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.terminate()
            self._watcher.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                aliases = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self.apply(aliases)
            except Exception:  # never let one bad swap stop the following ones
                log.exception("airfoil: applying new champions failed; still serving the loaded versions")

    def refresh(self) -> None:
        """Ask the registry now and apply what it says (the watcher does this in the background)."""
        self.apply(champion_aliases(self.settings))

    def apply(self, wanted: dict[str, int]) -> None:
        """For each model whose champion moved, load, check and swap it in; drop unregistered ones."""
        # A refused version is retried only once the alias has left it and come back (it may be fixed).
        self.failures = {k: why for k, why in self.failures.items() if wanted.get(k[0]) == k[1]}
        current = self.champions
        updated = {name: model for name, model in current.items() if name in wanted}
        for name, version in wanted.items():
            if name in current and current[name].version == version:
                continue
            if (name, version) in self.failures:
                continue
            loaded = self._load(name, version)
            if loaded is None:
                continue
            updated[name] = loaded
            if name in current:
                log.warning(
                    "airfoil: %s now answers with v%s (was v%s)", name, version, current[name].version
                )
        if updated != current:
            self.champions = updated  # the swap: one reference assignment
            for name, model in updated.items():
                self.metrics.serving.labels(name).set(model.version or 0)  # champions are registered

    def _load(self, name: str, version: int, remember: bool = True) -> LoadedModel | None:
        """Load a version; a champion that fails is remembered and not retried until the alias moves."""
        try:
            loaded = load_model(self.settings, name, version, grouped=True)
            if loaded.reference is not None and self.settings.api_profiles:
                references.get(*loaded.reference)  # read now, not at the first profile flush
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if remember:
                self.failures[(name, version)] = reason
            self.metrics.loads.labels(name, str(version), "failed").inc()
            log.error("airfoil: not serving %s v%s, keeping the current version: %s", name, version, reason)
            return None
        self.metrics.loads.labels(name, str(version), "loaded").inc()
        return loaded

    def cached(self, name: str, version: int) -> LoadedModel | None:
        """The version if it is already loaded (champion or pinned); never calls the registry."""
        champion = self.champions.get(name)
        if champion is not None and champion.version == version:
            return champion
        return self.pinned.peek(self.settings, name, version)

    def get(self, name: str, version: int | None = None) -> LoadedModel | None:
        """The champion, or a specific version (loaded on first use, kept among a few)."""
        champion = self.champions.get(name)
        if version is None or (champion is not None and champion.version == version):
            return champion
        found = self.pinned.peek(self.settings, name, version)
        if found is None:
            found = self._load(name, version, remember=False)
            if found is not None:
                self.pinned.put(self.settings, found)
        return found

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "name": m.name,
                "champion": m.version,
                "since": m.since,
                "backend": m.backend,
                "metrics": m.metrics,
            }
            for m in sorted(self.champions.values(), key=lambda m: m.name)
        ]
