"""Shared fixtures for unit tests: small specs, step contexts and synthetic data. No Airflow, no MLflow.

Tests mirror the package: tests/unit/<package>/test_<module>.py. `artifacts/` has no __init__.py on
purpose: its modules import under their own names, and test_modelfile asserts the dotted name of a
function it defines (`test_modelfile.double`) in the message that refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from airfoil.settings import Settings, load_settings
from airfoil.spec.loader import parse_spec
from airfoil.spec.model import PipelineSpec
from airfoil.steps.context import RunInfo, StepContext
from tests.unit.unit_support import spec_yaml


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # Run from an empty folder so a stray ./airfoil.toml cannot leak into the settings.
    monkeypatch.chdir(tmp_path)
    return load_settings({"AIRFOIL_HOME": str(tmp_path / "home")})


@pytest.fixture
def make_spec(tmp_path: Path) -> Callable[..., PipelineSpec]:
    """Build a spec as if loaded from `tmp_path/pipeline.yaml` (relative paths resolve against tmp_path)."""

    def make(**overrides: Any) -> PipelineSpec:
        return parse_spec(spec_yaml(**overrides), str(tmp_path / "pipeline.yaml"), base_dir=tmp_path)

    return make


@pytest.fixture
def make_ctx(settings: Settings) -> Callable[..., StepContext]:
    def make(
        spec: PipelineSpec, task_id: str = "extract", run_id: str = "manual__2024-01-01T00:00:00"
    ) -> StepContext:
        run = RunInfo(dag_id=f"{spec.name}__prepare", run_id=run_id, task_id=task_id)
        return StepContext(spec=spec, run=run, settings=settings)

    return make


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[pd.DataFrame, str], Path]:
    def write(df: pd.DataFrame, name: str = "data.csv") -> Path:
        path = tmp_path / name
        df.to_csv(path, index=False)
        return path

    return write
