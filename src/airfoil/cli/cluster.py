"""`airfoil run --on-cluster`: the pipeline's DAGs triggered on a running Airflow through its REST API,
followed with the same kind of progress as embedded runs. The scheduler and the executor's workers do
the work; Assets chain prepare -> train -> batch_predict exactly as they do on any Airflow cluster."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from airfoil.errors import AirfoilError
from airfoil.plan import DagKind, dag_id
from airfoil.serving.transient.airflow_api import AirflowAPI, TriggerError
from airfoil.settings import Settings

FINAL = {"success", "failed"}
NEXT_RUN_SECONDS = 90.0  # how long an Asset-triggered run may take to appear
SCHEDULED_RUN_SECONDS = 10.0  # how long the scheduler may take to start a just-unpaused DAG's run


def cluster_api(settings: Settings) -> AirflowAPI:
    """The Airflow of the stack `airfoil up` started under this home, else AIRFOIL_AIRFLOW_API_URL."""
    from airfoil.airflow.stack import USER, Stack, shared_secrets

    state = Stack(settings).state()
    if state is not None:
        password = shared_secrets(settings)["admin_password"]
        return AirflowAPI(f"http://127.0.0.1:{state.ports.airflow}", USER, password)
    if settings.airflow_api_url:
        return AirflowAPI(settings.airflow_api_url, settings.airflow_api_user, settings.airflow_api_password)
    raise AirfoilError(
        "no Airflow cluster to run on: start one with `airfoil up`, or set AIRFOIL_AIRFLOW_API_URL "
        "(and AIRFOIL_AIRFLOW_API_USER / AIRFOIL_AIRFLOW_API_PASSWORD)"
    )


def run_on_cluster(path: Path, only: DagKind | None) -> bool:
    """Trigger the first DAG (prepare, or `only`) and follow the runs the Assets start after it."""
    try:
        return _run(path, only)
    except TriggerError as exc:  # Airflow unreachable or refusing: an error the user can act on
        raise AirfoilError(str(exc)) from None


def _run(path: Path, only: DagKind | None) -> bool:
    from rich.console import Console

    from airfoil.cli.run import check_spec
    from airfoil.settings import load_settings

    spec = check_spec(path)
    settings = load_settings()
    api = cluster_api(settings)
    console = Console(highlight=False)
    chain = [DagKind.prepare, DagKind.train]
    if spec.deploy.batch is not None and spec.deploy.batch.on_new_model:
        chain.append(DagKind.batch_predict)
    if only is not None:
        chain = [only]
    dags = [dag_id(spec.name, k) for k in chain]
    for dag in dags[1:]:  # Asset-triggered and scheduled runs need them unpaused: the schedules go live
        _unpause(api, dag)
    console.print(f"[bold]airfoil[/] running [cyan]{spec.name}[/] on the Airflow cluster at {api.base}")
    started = time.perf_counter()
    run: dict[str, Any] | None = _start(api, dags[0])
    for i, dag in enumerate(dags):
        if i:  # the run the previous DAG's Asset event started: no guessing by time
            run = _started_by(api, dags[i - 1], run, _asset_of(spec.name, chain[i - 1]))
        if run is None:
            console.print(f"  {dag}: not started (the gate kept the champion, or nothing new), done")
            break
        run = _follow(console, api, dag, run)
        if run["state"] != "success":
            console.print(
                f"[red]{dag} run {run['dag_run_id']} {run['state']}[/]: see its task logs in Airflow"
            )
            return False
    console.print(f"done in {time.perf_counter() - started:.1f}s on the cluster")
    return True


def _asset_of(name: str, kind: DagKind) -> str:
    from airfoil.plan import dataset_asset, model_asset

    return dataset_asset(name) if kind == DagKind.prepare else model_asset(name)


def _start(api: AirflowAPI, dag: str) -> dict[str, Any]:
    """Unpause `dag` and run it now: the run the scheduler starts on unpausing a scheduled DAG (the
    latest interval), else a manual run. Either way, one run, not two."""
    was_paused = api.call("GET", f"/api/v2/dags/{dag}").json().get("is_paused", True)
    before = {r["dag_run_id"] for r in _runs(api, dag)}
    _unpause(api, dag)
    if was_paused:
        deadline = time.monotonic() + SCHEDULED_RUN_SECONDS
        while time.monotonic() < deadline:
            new = [r for r in _runs(api, dag) if r["dag_run_id"] not in before]
            if new:
                return new[0]
            time.sleep(0.5)
    return _trigger(api, dag)


def _runs(api: AirflowAPI, dag: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        api.call("GET", f"/api/v2/dags/{dag}/dagRuns", params={"order_by": "-id", "limit": 20})
        .json()
        .get("dag_runs", [])
    )
    return found


def _started_by(api: AirflowAPI, dag: str, run: dict[str, Any] | None, uri: str) -> dict[str, Any] | None:
    """The DAG run that `run`'s Asset event (`uri`) started, or None if it emitted none."""
    assert run is not None
    deadline = time.monotonic() + NEXT_RUN_SECONDS
    while time.monotonic() < deadline:
        events = (
            api.call(
                "GET",
                "/api/v2/assets/events",
                params={"source_dag_id": dag, "source_run_id": run["dag_run_id"]},
            )
            .json()
            .get("asset_events", [])
        )
        events = [e for e in events if e["uri"] == uri]
        if not events:
            return None  # the run finished without emitting it (a gate that kept the champion)
        created = [r for e in events for r in e.get("created_dagruns", [])]
        if created:
            target = created[0]
            found: dict[str, Any] = api.call(
                "GET", f"/api/v2/dags/{target['dag_id']}/dagRuns/{target['run_id']}"
            ).json()
            return found
        time.sleep(1.0)
    return None


def _unpause(api: AirflowAPI, dag: str) -> None:
    api.unpause(
        dag,
        "put the spec in AIRFOIL_PIPELINES before `airfoil up` (or in the folder it names), "
        "and wait for the dag-processor to parse it",
    )


def _trigger(api: AirflowAPI, dag: str) -> dict[str, Any]:
    body = {"logical_date": None, "note": "airfoil run --on-cluster"}
    resp = api.call("POST", f"/api/v2/dags/{dag}/dagRuns", json=body)
    if resp.status_code not in (200, 201):
        raise TriggerError(f"Airflow refused a run of {dag} ({resp.status_code}: {resp.text[:300]})")
    run: dict[str, Any] = resp.json()
    return run


def _follow(console: Any, api: AirflowAPI, dag: str, run: dict[str, Any]) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    run_id = run["dag_run_id"]
    columns = (TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task(f"{dag} queued", total=None)
        while True:
            run = api.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run_id}").json()
            tis = api.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances").json()
            states = [t.get("state") for t in tis.get("task_instances", [])]
            done = sum(s in {"success", "skipped", "failed", "upstream_failed"} for s in states)
            progress.update(
                bar, description=f"{dag} {run['state']}", total=len(states) or None, completed=done
            )
            if run["state"] in FINAL:
                return run
            time.sleep(1.0)
