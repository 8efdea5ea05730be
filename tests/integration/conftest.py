"""Integration fixtures: the real `airfoil` CLI in a subprocess, on a fresh AIRFOIL_HOME per test.

A subprocess per command keeps Airflow's configuration (read once per process) honest: each test
gets its own metadata DB, MLflow store and artifact root, exactly as a user's shell would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, ROOT

BIN = Path(sys.executable).parent


@dataclass
class Airfoil:
    """Runs `airfoil ...` against one AIRFOIL_HOME."""

    home: Path
    workdir: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRFOIL_", "MLFLOW"))}
        env.update(AIRFOIL_HOME=str(self.home), PYTHONWARNINGS="ignore", COLUMNS="160")
        return env

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(  # noqa: PLW1510 - the exit code is checked below, with the output
            [str(BIN / "airfoil"), *args],
            cwd=self.workdir,
            env=self.env,
            text=True,
            capture_output=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"airfoil {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def versions(self, name: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = json.loads(self("models", "list", name, "--json").stdout)
        return out

    def champion(self, name: str) -> int | None:
        return next((v["version"] for v in self.versions(name) if "champion" in v["aliases"]), None)


@pytest.fixture
def airfoil(tmp_path: Path) -> Airfoil:
    return Airfoil(home=tmp_path / "home", workdir=tmp_path)


@pytest.fixture
def example_copy(tmp_path: Path):
    """Copy an example folder so a test can edit its spec or data without touching the repo."""

    def copy(name: str, replace: dict[str, str] | None = None, dest_name: str | None = None) -> Path:
        dest = tmp_path / (dest_name or name)
        shutil.copytree(EXAMPLES / name, dest)
        spec = dest / "pipeline.yaml"
        text = spec.read_text()
        for old, new in (replace or {}).items():
            assert old in text, f"{old!r} not in {spec}"
            text = text.replace(old, new)
        spec.write_text(text)
        return spec

    return copy


__all__ = ["ROOT", "Airfoil"]
