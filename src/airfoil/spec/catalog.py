"""Where pipeline specs are found: AIRFOIL_PIPELINES, plus those remembered under AIRFOIL_HOME."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from airfoil.errors import SpecError
from airfoil.settings import Settings
from airfoil.spec.loader import load_spec
from airfoil.spec.model import PipelineSpec


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
    for path in find_specs(spec_roots(settings)):
        try:
            spec = load_spec(path)
        except SpecError:
            continue
        if spec.name == name:
            return spec, path
    return None
