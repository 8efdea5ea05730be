"""What a step knows about where it runs: the spec, the settings and the run that called it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airfoil.settings import Settings, load_settings

if TYPE_CHECKING:
    from airfoil.spec.model import PipelineSpec


@dataclass(frozen=True)
class RunInfo:
    """Identity of the task run; outputs are named by it so retries overwrite the same place."""

    dag_id: str
    run_id: str
    task_id: str
    try_number: int = 1
    map_index: int = -1
    max_tries: int = 0  # retries allowed after the first try
    conf: dict[str, Any] = field(default_factory=dict)  # the DAG run's conf (transient requests)

    @property
    def run_key(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.run_id).strip("_")


class StepContext:
    """Passed to every step: the spec, settings, run identity and where outputs go.

    `spec` is a loaded spec or the path of its file, read on first use of `ctx.spec`: a step that
    is handed what it needs (the batch `score` task) never loads the spec's pydantic model, a third
    of a scoring process's cold start.
    """

    def __init__(self, spec: PipelineSpec | str | Path, run: RunInfo, settings: Settings | None = None):
        self._spec = spec
        self.run = run
        self.settings = settings if settings is not None else load_settings()

    @property
    def spec(self) -> PipelineSpec:
        if isinstance(self._spec, str | Path):
            from airfoil.spec.loader import load_spec

            self._spec = load_spec(self._spec)
        return self._spec

    def with_run(self, run: RunInfo) -> StepContext:
        """The same spec and settings for another run."""
        return StepContext(self._spec, run, self.settings)

    def uri(self, filename: str) -> str:
        """Artifact URI for this task's output `filename` (stable across retries)."""
        task = self.run.task_id if self.run.map_index < 0 else f"{self.run.task_id}_{self.run.map_index}"
        return "/".join(
            [
                self.settings.artifact_root.rstrip("/"),
                self.spec.name,
                "runs",
                self.run.dag_id,
                self.run.run_key,
                task,
                filename,
            ]
        )

    def pipeline_uri(self, *parts: str) -> str:
        """Artifact URI shared by every run of this pipeline (e.g. the latest-dataset pointer)."""
        return "/".join([self.settings.artifact_root.rstrip("/"), self.spec.name, *parts])
