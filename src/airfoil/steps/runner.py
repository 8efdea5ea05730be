"""Run a step by name: the one function every Airflow task calls. Also usable without Airflow."""

from __future__ import annotations

import contextlib
import importlib
import sys
import traceback
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from airfoil.settings import load_settings
from airfoil.steps.context import RunInfo, StepContext
from airfoil.steps.json import json_safe

# Called with (run, state, detail); state is "running", "success" (detail: the result) or "failed"
# (detail: the error message).
Listener = Callable[[RunInfo, str, Any], None]
_listener: ContextVar[Listener | None] = ContextVar("airfoil_step_listener", default=None)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call `listener` for every step run in this thread of control while the block runs.

    In-process runs (`airfoil run`, the transient worker) draw progress with it; under a scheduler
    nobody listens and it costs nothing.
    """
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def _notify(run: RunInfo, state: str, detail: Any) -> None:
    listener = _listener.get()
    if listener is not None:
        listener(run, state, detail)


def _release_cv_workers() -> None:
    """Stop joblib's CV worker processes (train.n_jobs != 1) before a scheduler's task process ends.

    They inherit the task's stdout/stderr and API sockets; left running, they keep the Airflow task
    supervisor (and so an executor slot) waiting 60 s for those to close. In-process runs
    (`airfoil run`, the transient worker: someone listens) keep them warm for the next task.
    """
    if "joblib" not in sys.modules:
        return
    with contextlib.suppress(Exception):
        from joblib.externals.loky import reusable_executor

        executor = reusable_executor._executor
        if executor is not None:
            executor.shutdown(wait=True, kill_workers=True)


def resolve(step: str) -> Callable[..., dict[str, Any]]:
    module, _, name = step.partition(":")
    fn: Callable[..., dict[str, Any]] = getattr(importlib.import_module(module), name)
    return fn


def run_step(step: str, spec_path: str, run: RunInfo, inputs: dict[str, Any]) -> dict[str, Any]:
    """Call `step(ctx, **inputs)` and return its JSON-able result; the spec is read when the step
    first uses `ctx.spec`."""
    _notify(run, "running", "")
    try:
        ctx = StepContext(spec=spec_path, run=run, settings=load_settings())
        result = resolve(step)(ctx, **inputs)
    except Exception as exc:
        _notify(run, "failed", str(exc) or traceback.format_exception_only(exc)[-1].strip())
        raise
    finally:
        if _listener.get() is None:
            _release_cv_workers()
    result = json_safe(result)
    _notify(run, "success", result)
    return result
