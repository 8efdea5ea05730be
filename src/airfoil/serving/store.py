"""The models being served, and the background poller that swaps in a new champion.

A swap builds a new dict and replaces the reference in one assignment: a request reads the
reference once, so it finishes on the version it started with, and never sees a half-loaded one.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
from collections import OrderedDict
from typing import Any

from airfoil.serving.loaded import Served, load_served
from airfoil.serving.metrics import Metrics
from airfoil.serving.poller import champion_aliases, watch
from airfoil.settings import Settings

log = logging.getLogger("airfoil.serving")


class ModelStore:
    """Champions by name, plus a few pinned versions asked for explicitly."""

    def __init__(self, settings: Settings, metrics: Metrics, pinned_max: int = 4):
        self.settings = settings
        self.metrics = metrics
        self.champions: dict[str, Served] = {}
        self.failures: dict[tuple[str, int], str] = {}  # versions that failed to load: not retried
        self.ready = False
        self._pinned: OrderedDict[tuple[str, int], Served] = OrderedDict()
        self._pinned_max = pinned_max
        self._lock = threading.Lock()
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
        updated = {name: served for name, served in current.items() if name in wanted}
        for name, version in wanted.items():
            if name in current and current[name].version == version:
                continue
            served = self._load(name, version)
            if served is not None:
                updated[name] = served
                if name in current:
                    log.warning(
                        "airfoil: %s now answers with v%s (was v%s)", name, version, current[name].version
                    )
        if updated != current:
            self.champions = updated  # the swap: one reference assignment
            for name, served in updated.items():
                self.metrics.serving.labels(name).set(served.version)

    def _load(self, name: str, version: int, remember: bool = True) -> Served | None:
        """Load a version; a champion that fails is remembered and not retried until the alias moves."""
        if remember and (name, version) in self.failures:
            return None
        try:
            served = load_served(self.settings, name, version)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if remember:
                self.failures[(name, version)] = reason
            self.metrics.loads.labels(name, str(version), "failed").inc()
            log.error("airfoil: not serving %s v%s, keeping the current version: %s", name, version, reason)
            return None
        self.metrics.loads.labels(name, str(version), "loaded").inc()
        return served

    def cached(self, name: str, version: int) -> Served | None:
        """The version if it is already loaded (champion or pinned); never calls the registry."""
        champion = self.champions.get(name)
        if champion is not None and champion.version == version:
            return champion
        with self._lock:
            return self._pinned.get((name, version))

    def get(self, name: str, version: int | None = None) -> Served | None:
        """The champion, or a specific version (loaded on first use, kept among a few)."""
        champion = self.champions.get(name)
        if version is None or (champion is not None and champion.version == version):
            return champion
        key = (name, version)
        with self._lock:
            if key in self._pinned:
                self._pinned.move_to_end(key)
                return self._pinned[key]
        served = self._load(name, version, remember=False)
        if served is None:
            return None
        with self._lock:
            self._pinned[key] = served
            while len(self._pinned) > self._pinned_max:
                self._pinned.popitem(last=False)
        return served

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "name": s.name,
                "champion": s.version,
                "since": s.since,
                "backend": s.backend,
                "metrics": s.metrics,
            }
            for s in sorted(self.champions.values(), key=lambda s: s.name)
        ]
