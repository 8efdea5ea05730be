"""`airfoil up` on real PostgreSQL and Redis: api-server, scheduler, dag-processor, triggerer, two
Celery workers, an MLflow server and `airfoil serve`; the whole loop triggered with `airfoil run
--on-cluster`; faults (a worker or the scheduler killed, two trainings at once, PostgreSQL restarted
during a batch); `status`, a second `up`, `down`; clear errors when a service is missing.

The stack's PostgreSQL is a server of the module's own, started from the machine's PostgreSQL
installation (`postgres_support`), so that restarting it disturbs no test using the machine's server;
Airflow's metadata, the MLflow server's store and the prediction store are three databases in it."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from airfoil.airflow.stack import celery_worker_of
from tests.conftest import EXAMPLES
from tests.integration.cluster_support import (
    ClusterAirfoil,
    airflow_client,
    gone,
    kill_component,
    require_redis,
    restarted_by_supervisor,
    serving_models,
    stack_ports,
    trigger,
    wait_healthy,
    wait_run,
    wait_task,
)
from tests.integration.conftest import free_port
from tests.integration.postgres_support import PrivatePostgres, private_postgres

pytestmark = pytest.mark.integration

SPEC = str(EXAMPLES / "breast_cancer" / "pipeline.yaml")
# Airflow's fault settings, shortened through configuration (production values: docs/deploy.md#faults)
FAST_FAULTS = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "5",
}
RETRY_DELAY = 3  # the spec's retry_delay in these tests (default 30 s)
# breast_cancer with one small candidate, fitted in the task's process: the whole loop, the scheduler
# killed, two trainings at once and the batch are not about the search
SLIM = {
    "  cv: 5\n": "  cv: 2\n  n_jobs: 1\n",
    "    - {estimator: sklearn.ensemble.RandomForestClassifier, params: {n_estimators: [100], "
    "max_depth: [null, 8]}}\n": "",
}
# breast_cancer_full: the example's training as it ships (two candidates, 5 folds, a CV pool), long
# enough for the worker-kill test to interrupt; prepare and train only (no batch, no monitor)
FULL = "breast_cancer_full"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    pg = private_postgres(free_port())
    try:
        yield pg
    finally:
        pg.remove()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres: PrivatePostgres) -> Iterator[ClusterAirfoil]:
    broker = require_redis()
    base = tmp_path_factory.mktemp("cluster")
    # breast_cancer (SLIM) and breast_cancer_full, with a short retry delay; batch inputs are the copy's
    folder = base / "pipelines" / "breast_cancer"
    shutil.copytree(EXAMPLES / "breast_cancer", folder)
    spec = folder / "pipeline.yaml"
    text = spec.read_text()
    for old, new in SLIM.items():
        assert old in text, f"{old!r} not in the breast_cancer example's spec"
        text = text.replace(old, new)
    spec.write_text(text + f"retry_delay: {RETRY_DELAY}\n")
    full = base / "pipelines" / FULL / "pipeline.yaml"
    full.parent.mkdir()
    shutil.copytree(EXAMPLES / "breast_cancer" / "data", full.parent / "data")
    text = (EXAMPLES / "breast_cancer" / "pipeline.yaml").read_text().split("\ndeploy:\n")[0] + "\n"
    assert "name: breast_cancer\n" in text and "monitor:" not in text
    text = text.replace("name: breast_cancer\n", f"name: {FULL}\n")
    full.write_text(text + f"retry_delay: {RETRY_DELAY}\n")
    af = ClusterAirfoil(
        home=base / "home",
        workdir=base,
        extra={
            "AIRFOIL_AIRFLOW_DB_URL": postgres.url("airflow"),
            "AIRFOIL_MLFLOW_DB_URL": postgres.url("mlflow"),
            "AIRFOIL_STORE_URL": postgres.url("predictions"),
            "AIRFOIL_BROKER_URL": broker,
            "AIRFOIL_PIPELINES": os.pathsep.join([str(spec), str(full)]),
            **FAST_FAULTS,
        },
    )
    ports = [str(free_port()) for _ in range(3)]
    af.extra["PORTS"] = " ".join(ports)
    try:
        out = af(
            "up", "--executor", "celery", "--workers", "2", "--detach",
            "--airflow-port", ports[0], "--mlflow-port", ports[1], "--api-port", ports[2],
            timeout=400,
        )  # fmt: skip
        af.extra["UP_OUTPUT"] = out.stdout
        yield af
    finally:
        af("down", check=False, timeout=120)


def test_up_starts_a_healthy_stack_with_shared_secrets_and_only_airfoils_dags(
    cluster: ClusterAirfoil,
) -> None:
    secrets = cluster.home / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert set(cluster.secrets()) >= {"jwt_secret", "api_secret_key", "fernet_key", "admin_password"}
    assert cluster.secrets()["admin_password"] in cluster.extra["UP_OUTPUT"]  # printed once, at first start
    status = wait_healthy(cluster)  # a loaded machine can miss a heartbeat right after start-up
    names = {r["component"] for r in status}
    assert names == {
        "mlflow server", "airflow api-server", "airflow scheduler", "airflow dag-processor",
        "airflow triggerer", "airflow celery worker 1", "airflow celery worker 2", "airfoil serve",
        "airfoil supervisor",
    }  # fmt: skip
    with airflow_client(cluster) as c:
        dags = {d["dag_id"] for d in c.get("/api/v2/dags", params={"limit": 200}).json()["dags"]}
    # the pipelines' DAGs and no example DAG
    assert dags == {f"{p}__{k}" for p in ("breast_cancer", FULL) for k in ("prepare", "train")} | {
        "breast_cancer__batch_predict",
        "breast_cancer__monitor",
    }, dags


def test_a_second_up_does_not_start_a_second_stack(cluster: ClusterAirfoil) -> None:
    before = [p["pid"] for p in cluster.state()["processes"]]
    out = cluster("up", "--executor", "celery", "--detach")
    assert "already running" in out.stdout
    assert [p["pid"] for p in cluster.state()["processes"]] == before


def test_the_whole_loop_runs_on_two_celery_workers_and_the_api_follows_the_champion(
    cluster: ClusterAirfoil,
) -> None:
    first = cluster("run", "--on-cluster", cluster.spec, timeout=600)
    for dag in ("prepare", "train", "batch_predict"):
        assert re.search(rf"breast_cancer__{dag} success", first.stdout), first.stdout
    mlflow = {"AIRFOIL_TRACKING_URI": f"http://127.0.0.1:{stack_ports(cluster)[1]}"}
    registry = ClusterAirfoil(home=cluster.home, workdir=cluster.workdir, extra={**cluster.extra, **mlflow})
    champion = registry.champion("breast_cancer")
    assert champion is not None
    deadline = time.monotonic() + 60
    while _served(cluster, "breast_cancer") != champion:
        assert time.monotonic() < deadline, serving_models(cluster)
        time.sleep(1)
    # the tasks spread over both workers
    logs = cluster.home / "stack" / "logs"
    counts = [
        (logs / f"airflow-celery-worker-{i}.log").read_text().count("Executing workload") for i in (1, 2)
    ]
    assert all(n > 0 for n in counts), counts

    # a second champion (and the API switching to it) comes with the scheduler test's retrained version


def test_a_worker_killed_during_training_costs_a_retry_not_a_second_version(cluster: ClusterAirfoil) -> None:
    """breast_cancer_full run on the cluster (prepare, then the train run its dataset starts); the
    worker running one of the train run's tasks is killed."""
    mlflow = {"AIRFOIL_TRACKING_URI": f"http://127.0.0.1:{stack_ports(cluster)[1]}"}
    registry = ClusterAirfoil(home=cluster.home, workdir=cluster.workdir, extra={**cluster.extra, **mlflow})
    dag = f"{FULL}__train"
    outcome: list[subprocess.CompletedProcess[str]] = []
    thread = threading.Thread(
        target=lambda: outcome.append(cluster("run", "--on-cluster", _full_spec(cluster), timeout=900))
    )
    thread.start()
    try:
        with airflow_client(cluster) as c:
            run_id = _first_run(c, dag)
            tis = wait_task(c, dag, run_id, {"running"}, {"tune", "evaluate", "register"}, timeout=300)
            running = [t["task_id"] for t in tis if t["state"] == "running"]
            # the worker that received this run's running task (its log names the run and the task)
            worker = celery_worker_of(cluster.home / "stack", run_id, running[0], 2)
            killed = kill_component(cluster, f"airflow celery worker {worker}")
            assert wait_run(c, dag, run_id) == "success"
            tries = {
                (t["task_id"], t["map_index"]): t["try_number"]
                for t in c.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
            }
    finally:
        thread.join()
    assert outcome and f"{dag} success" in outcome[0].stdout, outcome
    # the killed task ran again (a mapped `tune` is one task instance per candidate)
    assert any(n > 1 for (task, _), n in tries.items() if task in running), (running, tries)
    versions = registry.versions(FULL)
    assert len(versions) == 1 and versions[0]["status"] == "READY", versions  # one version, not two
    assert versions[0]["airflow"]["run_id"] == run_id
    assert versions[0]["aliases"] == ["champion"]
    # the champion is servable: its files are whole (the API loads it, sha256 checked)
    deadline = time.monotonic() + 60
    while _served(cluster, FULL) != versions[0]["version"]:
        assert time.monotonic() < deadline, serving_models(cluster)
        time.sleep(1)
    restarted_by_supervisor(cluster, f"airflow celery worker {worker}", killed)


def _full_spec(cluster: ClusterAirfoil) -> str:
    return str(Path(cluster.spec).parent.parent / FULL / "pipeline.yaml")


def _served(cluster: ClusterAirfoil, name: str) -> int | None:
    """The version the prediction API answers `name` with (None: not served)."""
    return next((m["champion"] for m in serving_models(cluster)["models"] if m["name"] == name), None)


def _first_run(c: Any, dag: str, timeout: float = 300) -> str:
    """The id of `dag`'s first run, once it exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = c.get(f"/api/v2/dags/{dag}/dagRuns").json()["dag_runs"]
        if runs:
            assert len(runs) == 1, runs
            return str(runs[0]["dag_run_id"])
        time.sleep(0.5)
    raise AssertionError(f"{dag} did not start within {timeout} s")


def test_a_scheduler_killed_mid_run_is_restarted_and_the_run_completes(cluster: ClusterAirfoil) -> None:
    mlflow = {"AIRFOIL_TRACKING_URI": f"http://127.0.0.1:{stack_ports(cluster)[1]}"}
    registry = ClusterAirfoil(home=cluster.home, workdir=cluster.workdir, extra={**cluster.extra, **mlflow})
    before = {v["version"] for v in registry.versions("breast_cancer")}
    with airflow_client(cluster) as c:
        run_id = trigger(c, "breast_cancer__train")
        wait_task(c, "breast_cancer__train", run_id, {"running", "queued"})
        killed = kill_component(cluster, "airflow scheduler")
        restarted_by_supervisor(cluster, "airflow scheduler", killed)
        assert wait_run(c, "breast_cancer__train", run_id) == "success"
    # one new version, the new champion (the same data and training score as well: the gate's tie
    # passes); the API switches to it
    new = [v for v in registry.versions("breast_cancer") if v["version"] not in before]
    assert len(new) == 1 and new[0]["status"] == "READY" and new[0]["airflow"]["run_id"] == run_id, new
    assert new[0]["aliases"] == ["champion"], new
    deadline = time.monotonic() + 60
    while _served(cluster, "breast_cancer") != new[0]["version"]:
        assert time.monotonic() < deadline, serving_models(cluster)
        time.sleep(1)
    wait_healthy(cluster)
    # the supervisor itself is brought back by the next `airfoil up`
    kill_component(cluster, "airfoil supervisor")
    out = cluster("up", "--executor", "celery", "--detach", timeout=300)
    assert "restarted what had died: airfoil supervisor" in out.stdout


def test_two_trainings_at_once_leave_one_champion_on_a_ready_version(cluster: ClusterAirfoil) -> None:
    """A train run on the cluster and an `airfoil run --only train` beside it (its own embedded
    Airflow, the cluster's data, MLflow server and prediction store) train the same pipeline at the
    same time: the gate runs under the pipeline's lock, one after the other."""
    mlflow = f"http://127.0.0.1:{stack_ports(cluster)[1]}"
    registry = ClusterAirfoil(
        home=cluster.home, workdir=cluster.workdir, extra={**cluster.extra, "AIRFOIL_TRACKING_URI": mlflow}
    )
    before = {v["version"] for v in registry.versions("breast_cancer")}
    beside = ClusterAirfoil(
        home=cluster.home,
        workdir=cluster.workdir,
        extra={
            "AIRFOIL_PIPELINES": cluster.spec,
            "AIRFOIL_TRACKING_URI": mlflow,
            "AIRFOIL_STORE_URL": cluster.extra["AIRFOIL_STORE_URL"],
        },  # no AIRFOIL_AIRFLOW_DB_URL: DAG.test() on an SQLite file of its own
    )
    outcome: list[subprocess.CompletedProcess[str]] = []
    thread = threading.Thread(
        target=lambda: outcome.append(beside("run", cluster.spec, "--only", "train", timeout=600))
    )
    with airflow_client(cluster) as c:
        run_id = trigger(c, "breast_cancer__train")
        thread.start()
        assert wait_run(c, "breast_cancer__train", run_id) == "success"
    thread.join()
    assert outcome and "breast_cancer__train success" in outcome[0].stdout, outcome

    after = registry.versions("breast_cancer")
    new = [v for v in after if v["version"] not in before]
    assert len(new) == 2, new
    for v in new:  # every version READY, gated once, with the reason
        assert v["status"] == "READY" and v["promoted"]["passed"] is not None, v
        assert v["promoted"]["reason"] and v["promoted"]["reason"] != "not yet gated", v
    champions = [v for v in after if "champion" in v["aliases"]]
    assert len(champions) == 1 and champions[0]["status"] == "READY", champions
    # every promotion is in the champion history, the last one is the champion (no lost update)
    from mlflow import MlflowClient

    tags = MlflowClient(mlflow, mlflow).get_registered_model("breast_cancer").tags
    history = json.loads(tags["airfoil.champion_history"])
    assert {v["version"] for v in new if v["promoted"]["passed"]} <= set(history), (history, new)
    assert history[-1] == champions[0]["version"], (history, champions)


def _blocks(folder: Path, n: int, rows: int) -> dict[str, int]:
    """`n` new files of breast_cancer patients (new ids) in the batch input folder; name -> rows."""
    import pandas as pd

    source = pd.read_csv(folder.parent / "data" / "breast_cancer.csv").drop(columns=["diagnosis"])
    written = {}
    for i in range(n):
        block = source.sample(rows, random_state=i).assign(
            id=range(900_000 + i * rows, 900_000 + (i + 1) * rows)
        )
        block.to_csv(folder / f"restart-{i:02d}.csv", index=False)
        written[f"restart-{i:02d}.csv"] = rows
    return written


def test_postgresql_restarted_during_a_batch_stores_every_row_exactly_once(
    cluster: ClusterAirfoil, postgres: PrivatePostgres
) -> None:
    """PostgreSQL (Airflow's metadata, the MLflow server's store, the prediction store) stops for 5 s
    while score tasks run. A task in flight either rides over it (the store's pool reconnects, the
    Task SDK's client retries its calls) or fails and is retried; Airflow's components that exit
    are started again by the supervisor; every block ends stored once."""
    written = _blocks(Path(cluster.spec).parent / "incoming", 12, 150)
    supervisor_log = cluster.home / "stack" / "logs" / "airfoil-supervisor.log"
    restarts_before = len(supervisor_log.read_text().splitlines())
    with airflow_client(cluster) as c:
        run_id = trigger(c, "breast_cancer__batch_predict")
        wait_task(c, "breast_cancer__batch_predict", run_id, {"running"}, {"score"}, timeout=180)
        stopped_at = datetime.now(UTC)
        postgres.stop("fast")  # every connection of Airflow, the MLflow server and the tasks is cut
        time.sleep(5)
        postgres.start()
        state = wait_run(c, "breast_cancer__batch_predict", run_id, timeout=400)
        tis = c.get(
            f"/api/v2/dags/breast_cancer__batch_predict/dagRuns/{run_id}/taskInstances", params={"limit": 100}
        ).json()["task_instances"]
    scores = [t for t in tis if t["task_id"] == "score"]
    outcome = [(t["map_index"], t["state"], t["try_number"], t["start_date"], t["end_date"]) for t in scores]
    assert state == "success", outcome
    # the restart hit the run: score tasks were running when PostgreSQL stopped
    in_flight = [
        t for t in scores
        if datetime.fromisoformat(t["start_date"]) < stopped_at < datetime.fromisoformat(t["end_date"])
        or t["try_number"] > 1
    ]  # fmt: skip
    assert in_flight, outcome
    # Airflow's scheduler exits without its database; the supervisor started it again
    restarted = supervisor_log.read_text().splitlines()[restarts_before:]
    assert any("airflow scheduler had exited" in line for line in restarted), restarted
    import sqlalchemy as sa

    engine = sa.create_engine(cluster.extra["AIRFOIL_STORE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select b.source, b.status, b.rows_total, b.rows_scored, count(p.row_index), "
                "count(distinct p.row_id) from airfoil_batches b join airfoil_predictions p on "
                "p.batch_id = b.id where b.pipeline = 'breast_cancer' and b.source like '%restart-%' "
                "group by b.id"
            )
        ).all()
    engine.dispose()
    found = {Path(r[0]).name: tuple(r[1:]) for r in rows}
    assert found == {name: ("done", n, n, n, n) for name, n in written.items()}, found
    wait_healthy(cluster)


def test_down_stops_everything_it_started(cluster: ClusterAirfoil) -> None:
    pids = [p["pid"] for p in cluster.state()["processes"]]
    out = cluster("down", timeout=120)
    assert "stopped 9 process(es)" in out.stdout
    from airfoil.airflow.processes import session

    for pid in pids:  # nothing they started either (task supervisors included)
        assert gone(pid) and not session(pid), (pid, session(pid))
    assert cluster("status", check=False).returncode == 1


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"AIRFOIL_BROKER_URL": "redis://127.0.0.1:1/0"}, "AIRFOIL_BROKER_URL"),
        (
            {"AIRFOIL_AIRFLOW_DB_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/airflow"},
            "AIRFOIL_AIRFLOW_DB_URL",
        ),
        ({"AIRFOIL_AIRFLOW_DB_URL": ""}, "AIRFOIL_AIRFLOW_DB_URL"),  # SQLite cannot serve Celery workers
        ({"AIRFOIL_BROKER_URL": ""}, "AIRFOIL_BROKER_URL"),
    ],
)
def test_a_missing_service_is_a_clear_error_naming_the_setting(
    tmp_path: Path, env: dict[str, str], setting: str
) -> None:
    good = {
        "AIRFOIL_AIRFLOW_DB_URL": "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
        "AIRFOIL_BROKER_URL": "redis://127.0.0.1:6379/9",
    }
    af = ClusterAirfoil(home=tmp_path / "home", workdir=tmp_path, extra={**good, **env})
    out = af("up", "--executor", "celery", "--detach", check=False, timeout=60)
    assert out.returncode == 1 and setting in out.stderr, out.stderr
    assert not (af.home / "stack" / "stack.json").exists()  # nothing was started


def test_run_on_cluster_without_a_cluster_says_how_to_get_one(tmp_path: Path) -> None:
    af = ClusterAirfoil(home=tmp_path / "home", workdir=tmp_path)
    out = af("run", "--on-cluster", SPEC, check=False)
    assert out.returncode == 1 and "airfoil up" in out.stderr and "AIRFOIL_AIRFLOW_API_URL" in out.stderr
    refused = ClusterAirfoil(
        home=tmp_path / "home", workdir=tmp_path, extra={"AIRFOIL_AIRFLOW_API_URL": "http://127.0.0.1:1"}
    )
    out = refused("run", "--on-cluster", SPEC, check=False)
    assert out.returncode == 1 and "cannot reach the Airflow api-server" in out.stderr, out.stderr
