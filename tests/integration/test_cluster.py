"""`airfoil up` on the machine's real PostgreSQL and Redis: api-server, scheduler, dag-processor,
triggerer, two Celery workers, an MLflow server and `airfoil serve`; the whole loop triggered with
`airfoil run --on-cluster`; `status`, a second `up`, `down`; clear errors when a service is missing."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import EXAMPLES, require_postgres
from tests.integration.conftest import Airfoil, free_port

pytestmark = pytest.mark.integration

SPEC = str(EXAMPLES / "breast_cancer" / "pipeline.yaml")
# Airflow's fault settings, shortened through configuration (production values: docs/deploy.md#faults)
FAST_FAULTS = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
}


def require_redis() -> str:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=3).close()
    except OSError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(
            f"SKIPPED LOUDLY: Redis at 127.0.0.1:6379 is not reachable ({exc}); .ci/services.sh starts it"
        )
    return "redis://127.0.0.1:6379/9"


@dataclass
class ClusterAirfoil(Airfoil):
    """`airfoil` with the stack's configuration (PostgreSQL, Redis) in its environment."""

    extra: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, **self.extra}

    def secrets(self) -> dict[str, str]:
        found: dict[str, str] = json.loads((self.home / "secrets.json").read_text())
        return found

    def state(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads((self.home / "stack" / "stack.json").read_text())
        return found


def _drop(url: str) -> None:
    import sqlalchemy as sa

    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterAirfoil]:
    pg = require_postgres()
    broker = require_redis()
    tag = uuid.uuid4().hex[:8]
    base = tmp_path_factory.mktemp("cluster")
    urls = {
        "AIRFOIL_AIRFLOW_DB_URL": pg.replace("/test", f"/airfoil_{tag}_airflow"),
        "AIRFOIL_MLFLOW_DB_URL": pg.replace("/test", f"/airfoil_{tag}_mlflow"),
    }
    af = ClusterAirfoil(
        home=base / "home",
        workdir=base,
        extra={**urls, "AIRFOIL_BROKER_URL": broker, "AIRFOIL_PIPELINES": SPEC, **FAST_FAULTS},
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
        for url in urls.values():
            _drop(url)


def _ports(af: ClusterAirfoil) -> tuple[int, int, int]:
    a, m, s = (int(p) for p in af.extra["PORTS"].split())
    return a, m, s


def _airflow(af: ClusterAirfoil) -> httpx.Client:
    url = f"http://127.0.0.1:{_ports(af)[0]}"
    pw = af.secrets()["admin_password"]
    token = httpx.post(f"{url}/auth/token", json={"username": "admin", "password": pw}, timeout=30).json()
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=30
    )


def _serving(af: ClusterAirfoil) -> dict[str, Any]:
    url = f"http://127.0.0.1:{_ports(af)[2]}/v1/models"
    found: dict[str, Any] = httpx.get(
        url, headers={"Authorization": f"Bearer {af.secrets()['api_token']}"}, timeout=30
    ).json()
    return found


def test_up_starts_a_healthy_stack_with_shared_secrets_and_only_airfoils_dags(
    cluster: ClusterAirfoil,
) -> None:
    secrets = cluster.home / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert set(cluster.secrets()) >= {"jwt_secret", "api_secret_key", "fernet_key", "admin_password"}
    assert cluster.secrets()["admin_password"] in cluster.extra["UP_OUTPUT"]  # printed once, at first start
    status = json.loads(cluster("status", "--json").stdout)
    names = {r["component"] for r in status}
    assert names == {
        "mlflow server", "airflow api-server", "airflow scheduler", "airflow dag-processor",
        "airflow triggerer", "airflow celery worker 1", "airflow celery worker 2", "airfoil serve",
    }  # fmt: skip
    assert all(r["healthy"] for r in status), status
    with _airflow(cluster) as c:
        dags = {d["dag_id"] for d in c.get("/api/v2/dags", params={"limit": 200}).json()["dags"]}
    assert dags and all(d.startswith("breast_cancer__") for d in dags), dags  # no example DAGs


def test_a_second_up_does_not_start_a_second_stack(cluster: ClusterAirfoil) -> None:
    before = [p["pid"] for p in cluster.state()["processes"]]
    out = cluster("up", "--executor", "celery", "--detach")
    assert "already running" in out.stdout
    assert [p["pid"] for p in cluster.state()["processes"]] == before


def test_the_whole_loop_runs_on_two_celery_workers_and_the_api_follows_the_champion(
    cluster: ClusterAirfoil,
) -> None:
    first = cluster("run", "--on-cluster", SPEC, timeout=600)
    for dag in ("prepare", "train", "batch_predict"):
        assert re.search(rf"breast_cancer__{dag} success", first.stdout), first.stdout
    mlflow = {"AIRFOIL_TRACKING_URI": f"http://127.0.0.1:{_ports(cluster)[1]}"}
    registry = ClusterAirfoil(home=cluster.home, workdir=cluster.workdir, extra={**cluster.extra, **mlflow})
    champion = registry.champion("breast_cancer")
    assert champion is not None
    deadline = time.monotonic() + 60
    while _serving(cluster)["models"][0]["champion"] != champion:
        assert time.monotonic() < deadline, _serving(cluster)
        time.sleep(1)
    # the tasks spread over both workers
    logs = cluster.home / "stack" / "logs"
    counts = [
        (logs / f"airflow-celery-worker-{i}.log").read_text().count("Executing workload") for i in (1, 2)
    ]
    assert all(n > 0 for n in counts), counts

    # a second champion (and the API switching to it) comes with the next test's retrained version


def _trigger(c: httpx.Client, dag: str) -> str:
    resp = c.post(f"/api/v2/dags/{dag}/dagRuns", json={"logical_date": None})
    assert resp.status_code in (200, 201), resp.text
    run_id: str = resp.json()["dag_run_id"]
    return run_id


def _wait_task(
    c: httpx.Client,
    dag: str,
    run_id: str,
    states: set[str],
    tasks: set[str] | None = None,
    timeout: float = 120,
) -> list[dict]:
    """The run's task instances once one of them (of `tasks`) is in `states`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tis = c.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
        if any(t["state"] in states and (tasks is None or t["task_id"] in tasks) for t in tis):
            return tis
        time.sleep(0.5)
    raise AssertionError(f"no task of {dag} {run_id} reached {states} within {timeout} s")


def _wait_run(c: httpx.Client, dag: str, run_id: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state: str = c.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}").json()["state"]
        if state in ("success", "failed"):
            return state
        time.sleep(1)
    raise AssertionError(f"{dag} {run_id} did not finish within {timeout} s")


def _gone(pid: int) -> bool:
    """No such process, or only a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _kill(af: ClusterAirfoil, component: str) -> int:
    """kill -9 a component and everything it started, as if its machine died (Airflow's task
    supervisors leave the worker's process group for their own, so a group kill would spare them)."""
    from airfoil.airflow.processes import session

    pid = next(p["pid"] for p in af.state()["processes"] if p["name"] == component)
    os.killpg(pid, signal.SIGKILL)
    for child in session(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    return pid


def test_a_worker_killed_during_training_costs_a_retry_not_a_second_version(cluster: ClusterAirfoil) -> None:
    mlflow = {"AIRFOIL_TRACKING_URI": f"http://127.0.0.1:{_ports(cluster)[1]}"}
    registry = ClusterAirfoil(home=cluster.home, workdir=cluster.workdir, extra={**cluster.extra, **mlflow})
    before = registry.versions("breast_cancer")
    with _airflow(cluster) as c:
        run_id = _trigger(c, "breast_cancer__train")
        tis = _wait_task(c, "breast_cancer__train", run_id, {"running"}, {"tune", "evaluate", "register"})
        running = [t["task_id"] for t in tis if t["state"] == "running"]
        logs = cluster.home / "stack" / "logs"
        # the worker that received this run's running task (its log names the run and the task)
        worker = next(
            i for i in (1, 2)
            for line in (logs / f"airflow-celery-worker-{i}.log").read_text().splitlines()
            if f"run_id='{run_id}'" in line and f"task_id='{running[0]}'" in line
        )  # fmt: skip
        _kill(cluster, f"airflow celery worker {worker}")
        assert _wait_run(c, "breast_cancer__train", run_id) == "success"
        tries = {
            (t["task_id"], t["map_index"]): t["try_number"]
            for t in c.get(f"/api/v2/dags/breast_cancer__train/dagRuns/{run_id}/taskInstances").json()[
                "task_instances"
            ]
        }
    # the killed task ran again (a mapped `tune` is one task instance per candidate)
    assert any(n > 1 for (task, _), n in tries.items() if task in running), (running, tries)
    after = registry.versions("breast_cancer")
    new = [v for v in after if v["version"] not in {b["version"] for b in before}]
    assert len(new) == 1 and new[0]["status"] == "READY" and new[0]["airflow"]["run_id"] == run_id
    assert all(v["status"] == "READY" for v in after)
    assert new[0]["aliases"] == ["champion"]
    # the champion is servable: its files are whole (the API loads it, sha256 checked)
    deadline = time.monotonic() + 60
    while _serving(cluster)["models"][0]["champion"] != new[0]["version"]:
        assert time.monotonic() < deadline, _serving(cluster)
        time.sleep(1)
    out = cluster("up", "--executor", "celery", "--detach", timeout=300)  # brings the dead worker back
    assert f"airflow celery worker {worker}" in out.stdout


def test_a_scheduler_killed_mid_run_is_restarted_and_the_run_completes(cluster: ClusterAirfoil) -> None:
    with _airflow(cluster) as c:
        run_id = _trigger(c, "breast_cancer__train")
        _wait_task(c, "breast_cancer__train", run_id, {"running", "queued"})
        _kill(cluster, "airflow scheduler")
        time.sleep(12)  # past scheduler_health_check_threshold: the old scheduler counts as dead
        out = cluster("up", "--executor", "celery", "--detach", timeout=300)
        assert "restarted what had died: airflow scheduler" in out.stdout
        assert _wait_run(c, "breast_cancer__train", run_id) == "success"
    assert all(r["healthy"] for r in json.loads(cluster("status", "--json").stdout))


def test_down_stops_everything_it_started(cluster: ClusterAirfoil) -> None:
    pids = [p["pid"] for p in cluster.state()["processes"]]
    out = cluster("down", timeout=120)
    assert "stopped 8 process(es)" in out.stdout
    from airfoil.airflow.processes import session

    for pid in pids:  # nothing they started either (task supervisors included)
        assert _gone(pid) and not session(pid), (pid, session(pid))
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
