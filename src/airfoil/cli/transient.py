"""`airfoil transient run` / `worker`: run `<name>__transient` DAG runs in-process (embedded Airflow).

`airfoil serve` without an Airflow api-server starts one `worker` and talks to it with the messages
of `airfoil.serving.transient.messages`; `run` does one request from a shell.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from airfoil.errors import AirfoilError
from airfoil.serving.transient import messages


def dag_run(spec: Path, conf_file: Path, migrated: set[str]) -> messages.Outcome:
    """DAG.test of `<name>__transient` with the request in `conf_file` as its run conf; the outcome."""
    from airfoil.airflow import embedded
    from airfoil.cli.run import check_spec
    from airfoil.plan import DagKind, build_plans
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
        embedded.warm_execution_api()  # built for the newest API version only, not in the first task
        migrated.add("done")
    plan = next(p for p in build_plans(loaded, str(spec_path)) if p.kind == DagKind.transient)
    outcome = embedded.run_dag(render(plan), run_conf=conf)
    failed = outcome.failed()
    return messages.Outcome(
        state=outcome.state,
        dag_id=outcome.dag_id,
        run_id=outcome.run_id,
        result=outcome.result("train_predict"),
        error=failed[0].error if failed else None,
    )


def _log_path(prefix: str) -> Path:
    from airfoil.settings import load_settings

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return load_settings().logs_dir / f"{prefix}-{stamp}.log"


def run_one(spec: Path, conf_file: Path) -> bool:
    """One request; prints the outcome as one JSON line. True if the DAG run succeeded."""
    from dataclasses import replace

    from airfoil.airflow import embedded

    log_path = _log_path("transient")
    try:
        with embedded.captured_output(log_path) as terminal:
            outcome = replace(dag_run(spec, conf_file, set()), log=str(log_path))
            terminal.write(messages.encode(outcome).decode())
    except (OSError, ValueError) as exc:
        raise AirfoilError(str(exc)) from exc
    return outcome.ok


def worker() -> None:
    """Runs from stdin, one `messages.Run` line each; one `messages.Outcome` line each on stdout.

    Airflow, scikit-learn and Airflow's in-process execution API stay loaded between requests.
    Airflow's output goes to a log under AIRFOIL_HOME/logs. Exits when stdin closes.
    """
    from dataclasses import replace

    from airfoil.airflow import embedded

    log_path = _log_path("transient-worker")
    migrated: set[str] = set()
    with embedded.captured_output(log_path) as terminal:
        terminal.write(messages.encode(messages.Ready(log=str(log_path))).decode())
        terminal.flush()
        for line in sys.stdin:
            if not line.strip():
                continue
            run = messages.decode(line, messages.Run)
            try:
                if run is None:
                    raise ValueError(f"not a run message: {line.strip()[:200]!r}")
                outcome = dag_run(Path(run.spec), Path(run.conf_file), migrated)
            except Exception as exc:  # one bad job must not end the worker
                outcome = messages.Outcome(state="failed", error=f"{type(exc).__name__}: {exc}")
            terminal.write(messages.encode(replace(outcome, log=str(log_path))).decode())
            terminal.flush()
