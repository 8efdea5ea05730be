"""Run a step by name: the one function every Airflow task calls. Also usable without Airflow."""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from typing import Any

from airfoil.settings import load_settings
from airfoil.spec.loader import load_spec
from airfoil.steps.context import RunInfo, StepContext
from airfoil.steps.json import json_safe

# Called with (run, state, detail); state is "running", "success" (detail: the result) or "failed"
# (detail: the error message). In-process runs
# (`airfoil run`) use it to draw progress; under a scheduler nobody listens and it costs nothing.
Listener = Callable[[RunInfo, str, Any], None]
listeners: list[Listener] = []


def _notify(run: RunInfo, state: str, detail: Any) -> None:
    for listener in list(listeners):
        listener(run, state, detail)


def resolve(step: str) -> Callable[..., dict[str, Any]]:
    module, _, name = step.partition(":")
    fn: Callable[..., dict[str, Any]] = getattr(importlib.import_module(module), name)
    return fn


def run_step(step: str, spec_path: str, run: RunInfo, inputs: dict[str, Any]) -> dict[str, Any]:
    """Load the spec, call `step(ctx, **inputs)` and return its JSON-able result."""
    _notify(run, "running", "")
    try:
        ctx = StepContext(spec=load_spec(spec_path), run=run, settings=load_settings())
        result = resolve(step)(ctx, **inputs)
    except Exception as exc:
        _notify(run, "failed", str(exc) or traceback.format_exception_only(exc)[-1].strip())
        raise
    result = json_safe(result)
    _notify(run, "success", result)
    return result
