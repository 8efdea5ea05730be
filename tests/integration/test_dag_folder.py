"""The DAG-folder file as Airflow parses it: no import errors, retries everywhere, light imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.integration

DAGBAG = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "tasks": {t.task_id: t.retries for t in dag.tasks},
        "retry_delays": sorted({t.retry_delay.total_seconds() for t in dag.tasks}),
        "schedule": str(getattr(dag.schedule, "uri", dag.schedule)),
        "assets": sorted(str(getattr(a, "uri", a)) for t in dag.tasks for a in t.outlets),
    }
print(json.dumps(out))
"""

PARSE_ONLY = """
import json, runpy, sys
ns = runpy.run_path(sys.argv[1])
heavy = sorted(m for m in ("pandas", "sklearn", "mlflow", "polars", "pyarrow") if m in sys.modules)
print(json.dumps({"dags": sorted(k for k, v in ns.items() if type(v).__name__ == "DAG"), "heavy": heavy}))
"""


def _env(tmp_path: Path, pipelines: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRFOIL_"))}
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFOIL_HOME=str(tmp_path / "home"),
        AIRFOIL_PIPELINES=str(pipelines),
        PYTHONWARNINGS="ignore",
    )
    return env


def _python(code: str, *args: str, env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_dagbag_renders_every_example_without_errors(tmp_path: Path) -> None:
    out = _python(DAGBAG, str(ROOT / "dags"), env=_env(tmp_path, EXAMPLES))
    assert out["errors"] == {}
    trained = ("breast_cancer", "cars", "seattle_weather")
    assert set(out["dags"]) == {
        *(f"{p}__{d}" for p in trained for d in ("prepare", "train")),
        "breast_cancer__batch_predict",
        "breast_cancer__monitor",
        "transient_weather__prepare",
        "transient_weather__transient",
        "transient_weather__monitor",
    }
    for dag_id, dag in out["dags"].items():
        if dag_id.endswith("__transient"):  # a failed request is reported, not retried behind the caller
            assert set(dag["tasks"].values()) == {0}, dag_id
        else:
            assert all(retries >= 1 for retries in dag["tasks"].values()), dag_id
        assert dag["retry_delays"] == [30.0], dag_id  # the spec's retry_delay default
    assert list(out["dags"]["breast_cancer__prepare"]["tasks"]) == ["extract", "validate", "split"]
    assert out["dags"]["breast_cancer__prepare"]["assets"] == ["airfoil://breast_cancer/dataset"]
    # weekly, or when the monitor emits the drift Asset (retrain_on_drift)
    assert "airfoil://breast_cancer/drift" in out["dags"]["breast_cancer__prepare"]["schedule"]
    monitor = out["dags"]["breast_cancer__monitor"]
    assert list(monitor["tasks"]) == ["check", "alert"]
    assert monitor["assets"] == ["AssetAlias(name='airfoil-breast_cancer-drift', group='asset')"]
    assert out["dags"]["transient_weather__prepare"]["schedule"] == "None"
    assert out["dags"]["breast_cancer__train"]["schedule"] == "airfoil://breast_cancer/dataset"
    assert out["dags"]["breast_cancer__train"]["assets"] == ["airfoil://breast_cancer/model"]
    assert set(out["dags"]["cars__train"]["tasks"]) == {"dataset", "tune", "evaluate", "register", "promote"}
    batch = out["dags"]["breast_cancer__batch_predict"]
    assert list(batch["tasks"]) == ["champion", "discover", "score", "summarize"]
    assert "airfoil://breast_cancer/model" in batch["schedule"]  # @daily or a new champion


def test_parsing_imports_no_heavy_library(tmp_path: Path) -> None:
    out = _python(PARSE_ONLY, str(ROOT / "dags" / "airfoil_dags.py"), env=_env(tmp_path, EXAMPLES))
    assert len(out["dags"]) == 11
    assert out["heavy"] == []


def test_a_broken_spec_does_not_hide_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    shutil.copytree(EXAMPLES, folder)
    (folder / "broken").mkdir()
    (folder / "broken" / "pipeline.yaml").write_text("name: broken\ntask: [\n")
    out = _python(PARSE_ONLY, str(ROOT / "dags" / "airfoil_dags.py"), env=_env(tmp_path, folder))
    assert len(out["dags"]) == 11 and not any(d.startswith("broken") for d in out["dags"])
