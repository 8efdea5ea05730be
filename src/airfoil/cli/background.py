"""What `airfoil run` starts in background threads while the spec loads and Airflow starts.

Each job is a warm-up whose result nobody needs: the work it does (building Airflow's in-process
Execution API, starting the cross-validation worker processes) would otherwise happen, in the
foreground, at the first task that needs it. A job that fails changes nothing: the foreground
does the work itself when it gets there.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable


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
