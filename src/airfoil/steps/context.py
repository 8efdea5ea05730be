"""What a step knows about where it runs: the spec, the settings and the run that called it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from airfoil.settings import Settings, load_settings
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


@dataclass(frozen=True)
class StepContext:
    """Passed to every step: the spec, settings, run identity and where outputs go."""

    spec: PipelineSpec
    run: RunInfo
    settings: Settings = field(default_factory=load_settings)

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
