"""What `airfoil run` starts in background threads while the spec loads and Airflow starts.

Each job is a warm-up whose result nobody needs: the work it does (building Airflow's in-process
Execution API, starting the cross-validation worker processes) would otherwise happen, in the
foreground, at the first task that needs it. A job that fails changes nothing: the foreground
does the work itself when it gets there.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airfoil.settings import Settings
    from airfoil.spec.model import PipelineSpec


class Warmup:
    """One background thread running `job`; `wait()` before the foreground needs what it builds."""

    def __init__(self, name: str, job: Callable[[], object]) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(job,), name=f"airfoil-warmup-{name}", daemon=True
        )
        self._thread.start()

    @staticmethod
    def _run(job: Callable[[], object]) -> None:
        with contextlib.suppress(Exception):
            job()

    def wait(self) -> None:
        self._thread.join()


def while_airflow_starts(spec: PipelineSpec, *, train: bool) -> Warmup:
    """While the metadata DB is checked and the DAGs parse: build the Execution API the first task
    talks to (`wait()` on the Warmup returned before running a DAG), and when training runs, start
    the CV worker pool."""
    from airfoil.airflow import embedded

    api = Warmup("execution-api", embedded.warm_execution_api)
    if train:
        from airfoil.steps import workers

        Warmup("cv-workers", lambda: workers.warm(spec))
    return api


def after_training(settings: Settings) -> None:
    """What evaluate and register import and open first, while the train DAG's CV runs in worker
    processes (the main process mostly waits then): MLflow and its tracking store, matplotlib for
    the plots, the ONNX converter and runtime for the export and its parity check."""
    from airfoil.registry.client import warm

    warm(settings)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    for name in ("skl2onnx", "onnxruntime"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
