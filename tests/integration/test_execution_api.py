"""The in-process Execution API `airfoil run` builds: the newest API version only, and the Task SDK of
this Airflow is answered by it. A fresh interpreter each time (Airflow keeps one in-process API per
process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integration.airflow_support import clean_env

SCRIPT = r"""
import json, sys
from pathlib import Path
from airfoil.airflow import embedded
from airfoil.settings import load_settings

settings = load_settings()
embedded.configure(settings, [])
embedded.migrate(settings)
if sys.argv[1] == "broken":  # Cadwyn or Airflow changed shape: the full build, as Airflow does it
    def broken():
        raise RuntimeError("a Cadwyn that does not take the bundle")
    embedded._newest_api_version_only = broken
embedded.warm_execution_api()

import httpx
from airflow.api_fastapi.execution_api import versions
from airflow.sdk.api.datamodels._generated import API_VERSION
from airflow.sdk.execution_time.supervisor import in_process_api_server

api = in_process_api_server()
client = httpx.Client(transport=api.transport, base_url="http://in-process.invalid./")
# a real route of the Task SDK, at the version it speaks
answered = client.get(
    "task-instances/01a23d0e-78b9-7227-b9ae-0f59565f0168/previous-successful-dagrun",
    headers={"airflow-api-version": API_VERSION},
)
print(json.dumps({
    "served": [v.value for v in api.app.versions.versions],
    "module_bundle": len(versions.bundle.versions),
    "newest": API_VERSION,
    "status": answered.status_code,
    "ping": client.get("health/ping").status_code,
}))
"""


def _build(tmp_path: Path, mode: str) -> dict:
    env = clean_env(AIRFOIL_HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_in_process_api_serves_the_newest_version_only_and_answers_the_task_sdk(tmp_path: Path) -> None:
    built = _build(tmp_path, "trimmed")
    # the newest version and two older ones (which hold the routes kept for older clients)
    assert built["served"][0] == built["newest"] and len(built["served"]) == 3, built
    assert built["module_bundle"] > 3, built  # Airflow's own bundle is put back
    assert built["ping"] == 200 and built["status"] == 200, built


def test_when_trimming_fails_the_api_is_built_with_every_version(tmp_path: Path) -> None:
    built = _build(tmp_path, "broken")
    assert len(built["served"]) == built["module_bundle"] > 3, built
    assert built["ping"] == 200 and built["status"] == 200, built
