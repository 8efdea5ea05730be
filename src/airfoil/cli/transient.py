"""`airfoil transient run` / `worker`: run `<name>__transient` DAG runs in-process (embedded Airflow).

`airfoil serve` without an Airflow api-server starts one `worker` and sends it requests on stdin;
`run` does one request from a shell.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airfoil.errors import AirfoilError


def dag_run(spec: Path, conf_file: Path, migrated: set[str]) -> dict[str, Any]:
    """DAG.test of `<name>__transient` with the request in `conf_file` as its run conf; the outcome."""
    from airfoil.airflow import embedded
    from airfoil.cli.run import check_spec
    from airfoil.plan import build_plans
    from airfoil.settings import load_settings

    loaded = check_spec(spec)
    if loaded.deploy.mode != "transient":
        raise AirfoilError(f"pipeline {loaded.name!r} has deploy.mode {loaded.deploy.mode!r}, not transient")
    conf = json.loads(conf_file.read_text())
    settings = load_settings()
    spec_path = spec.resolve()
    embedded.configure(settings, [spec_path])  # before anything imports airflow: it reads its config once
    from airfoil.airflow.render import render

    if not migrated:  # once per process
        embedded.migrate(settings)
        migrated.add("done")
    plan = next(p for p in build_plans(loaded, str(spec_path)) if p.dag_id.endswith("__transient"))
    outcome = embedded.run_dag(render(plan), run_conf=conf)
    failed = outcome.failed()
    return {
        "dag_id": outcome.dag_id,
        "run_id": outcome.run_id,
        "state": outcome.state,
        "result": outcome.result("train_predict"),
        "error": failed[0].error if failed else None,
    }


def _log_path(prefix: str) -> Path:
    from airfoil.settings import load_settings

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return load_settings().logs_dir / f"{prefix}-{stamp}.log"


def run_one(spec: Path, conf_file: Path) -> bool:
    """One request; prints the outcome as one JSON line. True if the DAG run succeeded."""
    from airfoil.airflow import embedded

    log_path = _log_path("transient")
    try:
        with embedded.captured_output(log_path) as terminal:
            out = dag_run(spec, conf_file, set())
            terminal.write(json.dumps({**out, "log": str(log_path)}, default=str) + "\n")
    except (OSError, ValueError) as exc:
        raise AirfoilError(str(exc)) from exc
    return bool(out["state"] == "success")


def worker() -> None:
    """Requests from stdin, one JSON line each ({"spec", "conf_file"}); one JSON answer line each.

    Airflow, scikit-learn and Airflow's in-process execution API stay loaded between requests.
    Airflow's output goes to a log under AIRFOIL_HOME/logs. Exits when stdin closes.
    """
    from airfoil.airflow import embedded

    log_path = _log_path("transient-worker")
    migrated: set[str] = set()
    with embedded.captured_output(log_path) as terminal:
        terminal.write(json.dumps({"ready": True, "log": str(log_path)}) + "\n")
        terminal.flush()
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                job = json.loads(line)
                out = dag_run(Path(job["spec"]), Path(job["conf_file"]), migrated)
            except Exception as exc:  # one bad job must not end the worker
                out = {"state": "failed", "error": f"{type(exc).__name__}: {exc}"}
            terminal.write(json.dumps({**out, "log": str(log_path)}, default=str) + "\n")
            terminal.flush()
