"""Load `pipeline.yaml` into a `PipelineSpec`; every error names the field and its line in the file."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from airfoil.errors import SpecError
from airfoil.spec.model import FileSource, PipelineSpec


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Walk the composed YAML to the deepest node on `loc`; return its 1-based line."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                continue  # pydantic adds union-member names to loc; they are not keys in the file
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            continue
        line = node.start_mark.line + 1
    return line


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p[:1].isupper())]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out.replace("validate_", "validate") or "(top level)"


def _message(err: dict[str, Any]) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return "unknown field; remove it or check its spelling"
    if kind == "missing":
        return "required field is missing"
    return msg.removeprefix("Value error, ")


_PATH_PREFIX = re.compile(r"^([A-Za-z_][\w]*(?:\.[\w]+)*): (.*)$")


def _located(err: Any) -> list[tuple[tuple[Any, ...], str]]:
    """(loc, message) pairs; cross-field errors carry their field path at the start of each line."""
    loc, message = tuple(err["loc"]), _message(err)
    if loc or err["type"] != "value_error":
        return [(loc, message)]
    out = []
    for line in message.split("\n"):
        m = _PATH_PREFIX.match(line)
        out.append((tuple(m.group(1).split(".")), m.group(2)) if m else ((), line))
    return out


def parse_spec(text: str, path: str = "<spec>", base_dir: Path | None = None) -> PipelineSpec:
    """Parse and validate spec text. Relative source paths are resolved against `base_dir`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(path, [f"{where}not valid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise SpecError(
            path, ["the file must be a YAML mapping with at least name, task, source, target, train"]
        )
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            for loc, message in _located(err):
                problems.append(f"{_field(loc)} (line {_line_of(root, loc)}): {message}")
        raise SpecError(path, problems or [str(exc)]) from None
    if base_dir is not None and isinstance(spec.source, FileSource):
        resolved = _resolve(spec.source.path, base_dir)
        spec = spec.model_copy(update={"source": spec.source.model_copy(update={"path": resolved})})
    batch = spec.deploy.batch
    if base_dir is not None and batch is not None and isinstance(batch.input, str):
        batch = batch.model_copy(update={"input": _resolve(batch.input, base_dir)})
        spec = spec.model_copy(update={"deploy": spec.deploy.model_copy(update={"batch": batch})})
    labels = spec.monitor.labels if spec.monitor is not None else None
    if base_dir is not None and labels is not None and labels.path is not None:
        labels = labels.model_copy(update={"path": _resolve(labels.path, base_dir)})
        assert spec.monitor is not None
        spec = spec.model_copy(update={"monitor": spec.monitor.model_copy(update={"labels": labels})})
    if base_dir is not None:
        spec._base_dir = str(base_dir)
    return spec


def _resolve(path: str, base_dir: Path) -> str:
    """A relative local path made absolute against the spec's folder; URLs and absolute paths unchanged."""
    if "://" in path:
        return path
    local = Path(path).expanduser()
    return path if local.is_absolute() else str((base_dir / local).resolve())


def load_spec(path: str | Path) -> PipelineSpec:
    """Read a spec file (structure only: cheap enough for DAG parsing)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SpecError(str(p), [f"cannot read the file: {exc.strerror}"]) from None
    return parse_spec(text, str(p), base_dir=p.resolve().parent)


def import_callable(spec: PipelineSpec, target: str) -> Any:
    """Import "module:function" (or "module.Class"), also finding modules next to the spec file."""
    module, sep, name = target.partition(":")
    if not sep:
        module, _, name = target.rpartition(".")
    added = spec.base_dir is not None and spec.base_dir not in sys.path
    if added:
        sys.path.insert(0, str(spec.base_dir))
    try:
        return getattr(importlib.import_module(module), name)
    finally:
        if added:
            sys.path.remove(str(spec.base_dir))


def check_imports(spec: PipelineSpec, path: str = "<spec>") -> None:
    """Import every estimator and custom step the spec names; report all that fail. Not for parse time."""
    problems = []
    named = [(f"train.candidates[{i}].estimator", c.estimator) for i, c in enumerate(spec.train.candidates)]
    named += [(f"prepare.steps[{i}]", s) for i, s in enumerate(spec.prepare.steps)]
    for field, target in named:
        try:
            import_callable(spec, target)
        except ImportError as exc:
            problems.append(
                f"{field}: {target!r} cannot be imported ({exc}); install the package or fix the path"
            )
        except AttributeError:
            problems.append(f"{field}: {target!r} does not exist in its module; check the name")
    if problems:
        raise SpecError(path, problems)
