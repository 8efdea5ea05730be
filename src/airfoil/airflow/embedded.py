"""Run a pipeline's DAGs in this process through real Airflow (`DAG.test()` on an SQLite metadata DB).

Airflow reads its configuration when first imported, so `configure()` must run before anything
imports `airflow`; the CLI calls it first thing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from airfoil.airflow.dagfolder import install_dag_file
from airfoil.settings import Settings, airflow_environment

log = logging.getLogger(__name__)


@dataclass
class TaskOutcome:
    task_id: str
    map_index: int
    state: str
    error: str | None = None
    result: Any = None


@dataclass
class DagOutcome:
    dag_id: str
    run_id: str
    state: str
    tasks: list[TaskOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == "success"

    def result(self, task_id: str) -> Any:
        return next((t.result for t in self.tasks if t.task_id == task_id and t.result is not None), None)

    def failed(self) -> list[TaskOutcome]:
        return [t for t in self.tasks if t.state in ("failed", "upstream_failed") and t.error]


def configure(settings: Settings, extra_pipelines: list[Path] | None = None) -> None:
    """Point Airflow at airfoil's home (unless the user configured Airflow) and write the DAG file.

    Specs run here are remembered in `<home>/pipelines.txt`, so the embedded DAG folder (and the
    Airflow UI started on it) shows every pipeline this home has run, not only the last one.
    """
    from airfoil.spec.catalog import remembered as remembered_specs

    known = settings.home / "pipelines.txt"
    extra = list(extra_pipelines or [])
    # A spec run now replaces a remembered one of the same pipeline name (e.g. an edited copy).
    names = {_pipeline_name(p) for p in extra}
    remembered = [p for p in remembered_specs(settings) if p.exists() and _pipeline_name(p) not in names]
    pipelines = [p for p in dict.fromkeys([*settings.pipelines, *remembered, *extra]) if p.exists()]
    settings.home.mkdir(parents=True, exist_ok=True)
    known.write_text("".join(f"{p}\n" for p in pipelines if p not in settings.pipelines))
    env = airflow_environment(settings)
    env["AIRFOIL_PIPELINES"] = os.pathsep.join(str(p) for p in pipelines)
    os.environ.update(env)
    install_dag_file(Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]))
    settings.airflow_home.mkdir(parents=True, exist_ok=True)


def migrate(settings: Settings) -> None:
    """Create or upgrade Airflow's metadata DB once per Airflow version."""
    import airflow

    marker = settings.airflow_home / f".migrated-{airflow.__version__}"
    if marker.exists() and not os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "").startswith(
        "postgres"
    ):
        return
    from airflow.utils import db

    db.upgradedb()
    marker.touch()


def warm_execution_api() -> None:
    """Build the in-process Execution API `dag.test()` talks to, and answer one request with it.

    Building it imports FastAPI's routes (~1 s); its first request makes Cadwyn generate the
    versioned routers and schemas. Both otherwise happen inside the first task. Airflow keeps one
    per process (`in_process_api_server` is cached), so the first task finds it ready. Safe in a
    background thread once `configure()` ran; what is asked does not matter (a health check), only
    that the app initialised. It is built for the newest API version only (see
    `_newest_api_version_only`).
    """
    import httpx
    from airflow.sdk.execution_time.supervisor import in_process_api_server

    api = in_process_api_server()
    try:
        with _newest_api_version_only():
            transport = api.transport  # builds the app, its event loop and lifespan
    except Exception:  # Cadwyn or Airflow changed shape: build it as Airflow does
        log.warning("airfoil: the Execution API is built with every API version", exc_info=True)
        transport = api.transport
    # Not closed: the transport is the one every task's client uses for the rest of the process.
    httpx.Client(transport=transport, base_url="http://in-process.invalid./").get("health/ping")


@contextlib.contextmanager
def _newest_api_version_only() -> Iterator[None]:
    """While Airflow builds the in-process Execution API: a version bundle of the newest API version
    only, plus one older version that holds the routes kept for older clients.

    The in-process API has one client, the Task SDK of this same Airflow, which speaks the newest
    version; Cadwyn generating routers and schemas for all ten versions costs ~4.5 s of CPU (with
    the GIL held) in every `airfoil run`, for three versions ~1.5 s. Airflow's own api-server is
    never touched: only this process's in-process API, built here, once.
    """
    from airflow.api_fastapi.execution_api import versions
    from airflow.api_fastapi.execution_api.routes import execution_api_router
    from cadwyn import HeadVersion, Version, VersionBundle, VersionChange, endpoint
    from cadwyn.route_generation import _DELETED_ROUTE_TAG
    from fastapi.routing import APIRoute

    full = versions.bundle
    newest, older, oldest = (v.value for v in full.versions[:3])
    # Routes marked as existing in older versions only must exist in some older version.
    routes = execution_api_router.routes
    kept = [r for r in routes if isinstance(r, APIRoute) and _DELETED_ROUTE_TAG in r.tags]
    restore = type(
        "AirfoilOlderRoutes",
        (VersionChange,),
        {
            "description": "the routes Airflow keeps for older clients",
            "instructions_to_migrate_to_previous_version": tuple(
                endpoint(r.path, sorted(r.methods)).existed for r in kept
            ),
        },
    )
    versions.bundle = VersionBundle(HeadVersion(), Version(newest), Version(older, restore), Version(oldest))
    try:
        yield
    finally:
        versions.bundle = full


@contextlib.contextmanager
def captured_output(log_path: Path) -> Iterator[TextIO]:
    """Send everything written to fd 1/2 (Airflow's logs) to `log_path`; yield the real terminal."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved_out), "w", buffering=1)
    with open(log_path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            terminal.close()


def run_dag(
    dag: Any,
    on_event: Callable[[Any, str, Any], None] | None = None,
    logical_date: Any = None,
    run_conf: dict[str, Any] | None = None,
) -> DagOutcome:
    """`dag.test()` one DAG and report every task's final state, error and result.

    With the same `logical_date` the same DAG run is re-run (Airflow clears and re-executes it).
    `run_conf` is the DAG run's conf (a transient request).
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from airfoil.steps import runner

    events: dict[tuple[str, int], TaskOutcome] = {}

    def listen(run: Any, state: str, detail: Any) -> None:
        key = (run.task_id, run.map_index)
        outcome = events.setdefault(key, TaskOutcome(run.task_id, run.map_index, state))
        outcome.state = state
        if state == "failed":
            outcome.error = str(detail)
        elif state == "success":
            outcome.result, outcome.error = detail, None
        if on_event is not None:
            on_event(run, state, detail)

    # The run id derives from run_after: pin it too, so the same date means the same DAG run.
    kwargs: dict[str, Any] = (
        {} if logical_date is None else {"logical_date": logical_date, "run_after": logical_date}
    )
    if run_conf is not None:
        kwargs["run_conf"] = run_conf
    with runner.listening(listen):
        dr = dag.test(**kwargs)
    with create_session() as session:
        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == dr.run_id)
            .all()
        )
        tasks = []
        for ti in sorted(tis, key=lambda t: (t.start_date is None, t.start_date, t.map_index)):
            seen = events.get((ti.task_id, ti.map_index))
            state = _state(ti.state)
            tasks.append(
                TaskOutcome(
                    ti.task_id,
                    ti.map_index,
                    state,
                    seen.error if seen else None,
                    seen.result if seen else None,
                )
            )
    state = _state(dr.state)
    return DagOutcome(dag.dag_id, dr.run_id, state, tasks)


def _state(state: Any) -> str:
    """'success', 'failed', ... from Airflow's state enums (or None: 'none')."""
    return str(getattr(state, "value", state))


def _pipeline_name(path: Path) -> str | None:
    from airfoil.errors import SpecError
    from airfoil.spec.loader import load_spec

    try:
        return load_spec(path).name
    except SpecError:
        return None
