"""What starts a transient request's DAG run: the interface both runners implement."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airfoil.store import Batch, PredictionStore


@dataclass(frozen=True)
class Job:
    """One accepted request: its id, its pipeline's spec, and its row in the prediction store."""

    request_id: str
    pipeline: str
    spec_path: Path
    batch_id: int


class NotFound(Exception):
    """404 with a message saying why."""


class TriggerError(Exception):
    """The DAG run could not be started (Airflow unreachable, DAG unknown, ...)."""


def dag_run_id(request_id: str) -> str:
    """The Airflow DAG run id of a request: Airflow refuses a second run with the same id."""
    return f"transient__{request_id}"


class Runner(ABC):
    """Starts `<name>__transient` DAG runs; the DAG's task stores the outcome in the prediction store."""

    mode: str  # "embedded" or "airflow", as the status shows

    def __init__(self, store: PredictionStore):
        self.store = store

    def start(self) -> None:  # noqa: B027 - an optional hook
        """Start what runs the requests (threads, processes); called once before `submit`."""

    def stop(self) -> None:  # noqa: B027 - an optional hook
        """Stop it; requests still open are failed or left to Airflow."""

    def recover(self, locate: Callable[[str], Path]) -> None:  # noqa: B027 - an optional hook
        """Run again the requests a restart left pending (`locate`: a pipeline's spec, or NotFound)."""

    @abstractmethod
    def submit(self, job: Job, conf: dict[str, Any]) -> None:
        """Start the DAG run of `job` with `conf` as its run conf; TriggerError if it cannot be."""

    def refresh(self, batch: Batch) -> Batch:
        """The request's batch, updated with what the runner knows that the DAG could not store."""
        return batch
