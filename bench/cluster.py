"""Benchmark: airfoil on a real Airflow cluster (`airfoil up`, CeleryExecutor, PostgreSQL, Redis)
beside the embedded runs (`airfoil run`, DAG.test in-process), on one machine.

1. new data -> new champion answering: a changed source file (breast_cancer with its rows
   shuffled) until `airfoil serve` answers with the new champion version. On the cluster it is
   triggered with `airfoil run --on-cluster`; embedded, with `airfoil run` and an `airfoil serve`
   on the same home.
2. recovery: a Celery worker killed (with everything it started) during training, until the run
   succeeds; the scheduler killed mid-run, until the run succeeds. Nobody intervenes: Airflow fails
   and retries the lost task (the example's retry_delay, 30 s), `airfoil supervise` starts the
   killed component again.
3. fan-out: a batch run of 50 blocks (50 small files), tasks per second from the first task's start
   to the last task's end, on 1 and on 2 workers (two stacks one after the other); the ratio shows
   whether work spreads.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and Redis on 127.0.0.1:6379. Fault timings
use Airflow's shortened settings (heartbeat timeout 15 s, orphan check 5 s), as the tests do.
Run: .venv/bin/python bench/cluster.py [--blocks 50]. Results: bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from airfoil.airflow.stack import celery_worker_of

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
AIRFOIL = Path(sys.executable).parent / "airfoil"
PG = "postgresql+psycopg2://postgres@127.0.0.1:5432"
FAST_FAULTS = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Home:
    """One AIRFOIL_HOME and the `airfoil` commands run against it."""

    def __init__(self, path: Path, spec: Path, **env: str):
        self.path, self.spec = path, spec
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRFOIL_", "MLFLOW"))
        }
        self.env.update(AIRFOIL_HOME=str(path), AIRFOIL_PIPELINES=str(spec), PYTHONWARNINGS="ignore")
        self.env.update(AIRFOIL_POLL_SECONDS="0.5", **env)  # the API sees a new champion within 0.5 s

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([str(AIRFOIL), *args], env=self.env, text=True, capture_output=True, check=False)
        if check and out.returncode:
            raise SystemExit(f"airfoil {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out

    def until_champion(self, args: list[str], api: str, token: str, version: int) -> float:
        """Seconds from starting `airfoil *args` until the API answers with `version` (the command
        may still be finishing: batch and monitor runs after the promotion are not counted)."""
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(AIRFOIL), *args], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        seconds = wait_champion(api, token, version, t0)
        if proc.wait(timeout=600):
            raise SystemExit(f"airfoil {' '.join(args)} failed")
        return seconds

    def secrets(self) -> dict[str, str]:
        found: dict[str, str] = json.loads((self.path / "secrets.json").read_text())
        return found


def pipeline(work: Path) -> Path:
    dest = work / "breast_cancer"
    shutil.copytree(ROOT / "examples" / "breast_cancer", dest)
    return dest / "pipeline.yaml"


def land_new_data(spec: Path, seed: int) -> None:
    """A new source file: the same rows in another order (a new dataset fingerprint, a new version)."""
    import pandas as pd

    path = spec.parent / "data" / "breast_cancer.csv"
    pd.read_csv(path).sample(frac=1.0, random_state=seed).to_csv(path, index=False)


def champion_of(api: str, token: str) -> int | None:
    try:
        models = httpx.get(f"{api}/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return None
    found = [m["champion"] for m in models.get("models", []) if m["name"] == "breast_cancer"]
    return found[0] if found else None


def wait_champion(api: str, token: str, version: int, since: float, timeout: float = 300) -> float:
    while champion_of(api, token) != version:
        if time.perf_counter() - since > timeout:
            raise SystemExit(f"the API did not answer with v{version} within {timeout} s")
        time.sleep(0.2)
    return time.perf_counter() - since


def embedded_new_data(work: Path) -> dict[str, Any]:
    spec = pipeline(work)
    home = Home(work / "home-embedded", spec)
    home("run", str(spec))
    port, token = free_port(), "bench-token"
    serve = subprocess.Popen(
        [str(AIRFOIL), "serve", "--port", str(port)],
        env={**home.env, "AIRFOIL_API_TOKEN": token, "AIRFOIL_POLL_SECONDS": "0.5"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        api = f"http://127.0.0.1:{port}"
        wait_champion(api, token, 1, time.perf_counter(), 90)
        land_new_data(spec, 1)
        seconds = home.until_champion(["run", str(spec)], api, token, 2)
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=30)
    print(f"  embedded: new data -> v2 answering in {seconds:.1f} s")
    return {"new_data_to_champion_s": round(seconds, 2)}


def stack(work: Path, name: str, workers: int, spec: Path) -> tuple[Home, dict[str, int]]:
    tag = uuid.uuid4().hex[:8]
    ports = {"airflow": free_port(), "mlflow": free_port(), "api": free_port()}
    home = Home(
        work / f"home-{name}",
        spec,
        AIRFOIL_AIRFLOW_DB_URL=f"{PG}/airfoil_bench_{tag}_airflow",
        AIRFOIL_MLFLOW_DB_URL=f"{PG}/airfoil_bench_{tag}_mlflow",
        AIRFOIL_BROKER_URL="redis://127.0.0.1:6379/10",
        **FAST_FAULTS,
    )
    t0 = time.perf_counter()
    home(
        "up", "--executor", "celery", "--workers", str(workers), "--detach", "--airflow-port",
        str(ports["airflow"]), "--mlflow-port", str(ports["mlflow"]), "--api-port", str(ports["api"]),
    )  # fmt: skip
    print(f"  {name}: airfoil up ({workers} worker(s)) healthy in {time.perf_counter() - t0:.1f} s")
    return home, ports


def down(home: Home) -> None:
    import sqlalchemy as sa

    home("down", check=False)
    for key in ("AIRFOIL_AIRFLOW_DB_URL", "AIRFOIL_MLFLOW_DB_URL"):
        url = sa.engine.make_url(home.env[key])
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


def airflow(home: Home, port: int) -> httpx.Client:
    base = f"http://127.0.0.1:{port}"
    token = httpx.post(
        f"{base}/auth/token",
        json={"username": "admin", "password": home.secrets()["admin_password"]},
        timeout=30,
    ).json()["access_token"]
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def run_state(c: httpx.Client, dag: str, run_id: str) -> str:
    state: str = c.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}").json()["state"]
    return state


def wait_run(c: httpx.Client, dag: str, run_id: str, timeout: float = 600) -> float:
    t0 = time.perf_counter()
    while (state := run_state(c, dag, run_id)) not in ("success", "failed"):
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"{dag} {run_id} not done in {timeout} s")
        time.sleep(0.5)
    if state != "success":
        raise SystemExit(f"{dag} {run_id} {state}")
    return time.perf_counter() - t0


def wait_running(c: httpx.Client, dag: str, run_id: str, tasks: set[str]) -> str:
    while True:
        tis = c.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
        running = [t["task_id"] for t in tis if t["state"] == "running" and t["task_id"] in tasks]
        if running:
            return running[0]
        time.sleep(0.3)


def kill(home: Home, component: str) -> None:
    from airfoil.airflow.processes import session

    state = json.loads((home.path / "stack" / "stack.json").read_text())
    pid = next(p["pid"] for p in state["processes"] if p["name"] == component)
    for child in [pid, *session(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def trigger(c: httpx.Client, dag: str) -> str:
    run_id: str = c.post(f"/api/v2/dags/{dag}/dagRuns", json={"logical_date": None}).json()["dag_run_id"]
    return run_id


def cluster_figures(work: Path) -> dict[str, Any]:
    spec = pipeline(work / "c2")
    home, ports = stack(work, "cluster", 2, spec)
    out: dict[str, Any] = {}
    try:
        api, token = f"http://127.0.0.1:{ports['api']}", home.secrets()["api_token"]
        home("run", "--on-cluster", str(spec))
        wait_champion(api, token, 1, time.perf_counter(), 120)
        land_new_data(spec, 1)
        seconds = home.until_champion(["run", "--on-cluster", str(spec)], api, token, 2)
        out["new_data_to_champion_s"] = round(seconds, 2)
        print(f"  cluster: new data -> v2 answering in {out['new_data_to_champion_s']:.1f} s")
        with airflow(home, ports["airflow"]) as c:
            run_id = trigger(c, "breast_cancer__train")
            task = wait_running(c, "breast_cancer__train", run_id, {"tune", "evaluate", "register"})
            worker = celery_worker_of(home.path / "stack", run_id, task, 2)
            kill(home, f"airflow celery worker {worker}")
            out["worker_kill_recovery_s"] = round(wait_run(c, "breast_cancer__train", run_id), 2)
            print(f"  cluster: worker killed in {task}: run done {out['worker_kill_recovery_s']:.1f} s later")
            # the supervisor has started the worker again; now the scheduler
            run_id = trigger(c, "breast_cancer__train")
            wait_running(c, "breast_cancer__train", run_id, {"tune", "evaluate", "register"})
            kill(home, "airflow scheduler")
            recovery = round(wait_run(c, "breast_cancer__train", run_id), 2)
            out["scheduler_kill_recovery_s"] = recovery
            print(f"  cluster: scheduler killed, restarted by the supervisor: run done in {recovery:.1f} s")
    finally:
        down(home)
    return out


def fan_out(work: Path, workers: int, blocks: int) -> dict[str, Any]:
    import pandas as pd

    spec = pipeline(work / f"f{workers}")
    incoming = spec.parent / "incoming"
    base = pd.read_csv(spec.parent / "data" / "breast_cancer.csv").drop(columns=["diagnosis"])
    for old in incoming.glob("*.csv"):
        old.unlink()
    for i in range(blocks):
        block = base.sample(n=200, random_state=i).assign(id=range(i * 200, (i + 1) * 200))
        block.to_csv(incoming / f"block-{i:03d}.csv", index=False)
    home, ports = stack(work, f"fanout-{workers}", workers, spec)
    try:
        home("run", "--on-cluster", str(spec))  # prepare -> train -> the promotion's batch run: every block
        with airflow(home, ports["airflow"]) as c:
            runs = c.get("/api/v2/dags/breast_cancer__batch_predict/dagRuns").json()["dag_runs"]
            run = next(r for r in runs if r["run_type"] == "asset_triggered" and r["state"] == "success")
            tis = c.get(
                f"/api/v2/dags/breast_cancer__batch_predict/dagRuns/{run['dag_run_id']}/taskInstances",
                params={"limit": 500},
            ).json()["task_instances"]
    finally:
        down(home)
    starts = [datetime.fromisoformat(t["start_date"]) for t in tis if t["start_date"]]
    ends = [datetime.fromisoformat(t["end_date"]) for t in tis if t["end_date"]]
    span = (max(ends) - min(starts)).total_seconds()
    scored = sum(t["task_id"] == "score" for t in tis)
    out = {"workers": workers, "tasks": len(tis), "score_tasks": scored, "seconds": round(span, 2)}
    out["tasks_per_s"] = round(len(tis) / span, 3)
    print(
        f"  fan-out, {workers} worker(s): {len(tis)} tasks ({scored} blocks), {span:.1f} s, "
        f"{out['tasks_per_s']:.2f}/s"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=50)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="airfoil-bench-cluster-") as d:
        work = Path(d)
        print("new data -> new champion answering, and recovery")
        results["embedded"] = embedded_new_data(work / "e")
        results["cluster"] = cluster_figures(work)
        ratio = results["cluster"]["new_data_to_champion_s"] / results["embedded"]["new_data_to_champion_s"]
        print(f"  cluster / embedded: {ratio:.2f}")
        results["cluster_over_embedded"] = round(ratio, 3)
        print(f"batch fan-out of {args.blocks} blocks")
        one = fan_out(work, 1, args.blocks)
        two = fan_out(work, 2, args.blocks)
        results["fan_out"] = {"one_worker": one, "two_workers": two}
        results["fan_out"]["speedup"] = round(two["tasks_per_s"] / one["tasks_per_s"], 3)
        print(f"  2 workers / 1 worker: {results['fan_out']['speedup']:.2f}")
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(results, indent=2))
    print(f"-> {RESULTS / 'cluster.json'}")


if __name__ == "__main__":
    main()
