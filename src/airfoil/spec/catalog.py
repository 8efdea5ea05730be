"""Where pipeline specs are found: AIRFOIL_PIPELINES, plus those remembered under AIRFOIL_HOME."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from airfoil.errors import SpecError
from airfoil.settings import Settings
from airfoil.spec.loader import load_spec
from airfoil.spec.model import PipelineSpec

log = logging.getLogger("airfoil.spec")


def find_specs(roots: Iterable[Path]) -> list[Path]:
    """Spec files: each root is a file, or a folder searched for `pipeline.yaml` / `*.pipeline.yaml`."""
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found.extend(sorted(set(root.rglob("pipeline.yaml")) | set(root.rglob("*.pipeline.yaml"))))
    return list(dict.fromkeys(found))


def remembered(settings: Settings) -> list[Path]:
    """The specs `airfoil run` remembered in `<home>/pipelines.txt`."""
    known = settings.home / "pipelines.txt"
    return [Path(p) for p in known.read_text().split("\n") if p] if known.exists() else []


def spec_roots(settings: Settings) -> list[Path]:
    """AIRFOIL_PIPELINES, then the specs `airfoil run` remembered."""
    return list(dict.fromkeys([*settings.pipelines, *remembered(settings)]))


def find_spec(settings: Settings, name: str) -> tuple[PipelineSpec, Path] | None:
    """The spec of pipeline `name` (and its path), or None when no known spec defines it."""
    return SpecCache(settings).find(name)


class SpecCache:
    """Pipeline specs by name for a long-running process: a file is read again only when it changes."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._cache: dict[Path, tuple[float, PipelineSpec | None]] = {}
        self._lock = threading.Lock()

    def find(self, name: str) -> tuple[PipelineSpec, Path] | None:
        """The spec of pipeline `name` and its path; invalid specs are logged and skipped."""
        with self._lock:
            for path in dict.fromkeys(p.resolve() for p in find_specs(spec_roots(self.settings))):
                spec = self._load(path)
                if spec is not None and spec.name == name:
                    return spec, path
        return None

    def _load(self, path: Path) -> PipelineSpec | None:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        cached = self._cache.get(path)
        if cached is None or cached[0] != mtime:
            try:
                spec: PipelineSpec | None = load_spec(path)
            except SpecError as exc:
                log.warning("airfoil: skipping invalid spec %s: %s", path, exc)
                spec = None
            self._cache[path] = cached = (mtime, spec)
        return cached[1]
