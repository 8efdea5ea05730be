"""Benchmark: time from a transient POST to its stored predictions (GET says `done`).

Two ways the API starts the `<name>__transient` DAG, each on a fresh AIRFOIL_HOME with the
examples/transient_weather pipeline prepared first (`airfoil run --only prepare`):

  1. embedded: `airfoil serve` with no Airflow api-server configured; requests run one at a time
     in its `airfoil transient worker` subprocess (DAG.test on the embedded SQLite metadata DB),
     which the first request starts (so request 1 also pays for loading Airflow and scikit-learn).
  2. airflow: a real Airflow 3 deployment on a temporary AIRFLOW_HOME: `airflow api-server`,
     `airflow scheduler` (LocalExecutor) and `airflow dag-processor`, airfoil's DAG file in its DAG
     folder, the SimpleAuthManager with one admin user and a passwords file. Metadata DB: an
     SQLite file in WAL mode with a 60 s lock timeout (with Airflow's defaults, 5 s and a rollback
     journal, its own requests hit "database is locked" under this load), or with
     --airflow-db postgres a temporary database on 127.0.0.1:5432 (needs asyncpg for Airflow's
     async engine; not installed here).
     `airfoil serve` gets AIRFOIL_AIRFLOW_API_URL/_USER/_PASSWORD and triggers each request as a DAG
     run through POST /api/v2/dags/{dag_id}/dagRuns (JWT from POST /auth/token).

Each request sends 20 rows (dataframe_split) and is polled every 50 ms until done; requests are sent
one after the other (the next when the previous is done). Prints median / p90 / min / max per
mode and writes bench/results/transient.json. Every process started here is stopped by its pid.

Run: .venv/bin/python bench/transient.py [--requests 5] [--skip-airflow] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from airfoil.airflow.deployment import USER, Deployment

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
AIRFOIL = BIN / "airfoil"
AIRFLOW = BIN / "airflow"
SPEC = ROOT / "examples" / "transient_weather" / "pipeline.yaml"
NAME = "transient_weather"
TOKEN = "bench-token"
PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
COLUMNS = ["precipitation", "temp_max", "temp_min", "wind", "month"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRFOIL_", "MLFLOW"))}
    env.update(PYTHONWARNINGS="ignore", **extra)
    return env


@contextlib.contextmanager
def started(name: str, cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A background process with its output in `log`; terminated (then killed) by its pid on exit."""
    with log.open("wb") as out:
        # Its own process group: Airflow's scheduler and api-server start children (executor
        # workers, serve-logs) that must stop with it.
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent, start_new_session=True
        )
    print(f"  started {name} (pid {proc.pid}), log {log}", flush=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is left
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def wait_until(what: str, check: Any, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what}: the process exited {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not ready within {timeout:.0f} s")
        time.sleep(0.25)


def prepare(home: Path) -> None:
    env = clean_env(AIRFOIL_HOME=str(home))
    t = time.perf_counter()
    subprocess.run(
        [str(AIRFOIL), "run", str(SPEC), "--only", "prepare"], env=env, check=True, capture_output=True
    )
    print(f"  prepared {NAME} in {time.perf_counter() - t:.1f} s", flush=True)


@contextlib.contextmanager
def airfoil_serve(home: Path, **env: str) -> Iterator[str]:
    port = free_port()
    environ = clean_env(
        AIRFOIL_HOME=str(home),
        AIRFOIL_API_TOKEN=TOKEN,
        AIRFOIL_PIPELINES=str(SPEC),
        AIRFOIL_POLL_SECONDS="5",
        **env,
    )
    url = f"http://127.0.0.1:{port}"
    cmd = [str(AIRFOIL), "serve", "--port", str(port)]
    with started("airfoil serve", cmd, environ, home.parent / f"serve-{home.name}.log") as proc:
        wait_until("airfoil serve", lambda: httpx.get(f"{url}/v2/health/ready").status_code == 200, 120, proc)
        yield url


def rows(n: int = 20) -> list[list[Any]]:
    return [[float(i % 7), 10.0 + i % 15, 2.0 + i % 9, 1.0 + (i % 5) / 2, 1 + i % 12] for i in range(n)]


def time_requests(url: str, n: int, timeout: float) -> list[dict[str, Any]]:
    out = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for i in range(n):
            request_id = f"bench-{uuid.uuid4().hex[:12]}"
            body = {"request_id": request_id, "dataframe_split": {"columns": COLUMNS, "data": rows()}}
            t0 = time.perf_counter()
            resp = client.post(f"/v1/models/{NAME}/transient", json=body)
            accepted = time.perf_counter() - t0
            if resp.status_code != 202:
                raise SystemExit(f"POST {resp.status_code}: {resp.text}")
            first_running = None
            while True:
                got = client.get(f"/v1/predictions/{request_id}").json()
                if got["status"] == "running" and first_running is None:
                    first_running = time.perf_counter() - t0
                if got["status"] in ("done", "failed"):
                    break
                if time.perf_counter() - t0 > timeout:
                    raise SystemExit(f"request {request_id} still {got['status']} after {timeout} s")
                time.sleep(0.05)
            total = time.perf_counter() - t0
            if got["status"] != "done":
                raise SystemExit(f"request {request_id} failed: {got.get('error')}")
            assert len(got["predictions"]) == 20, got
            rec = {
                "request_id": request_id,
                "seconds": round(total, 3),
                "accepted_seconds": round(accepted, 4),
                "running_after_seconds": None if first_running is None else round(first_running, 3),
                "train_seconds": got["lineage"]["train_seconds"],
                "dag_run_id": got["dag_run_id"],
            }
            print(f"  request {i + 1}/{n}: {total:.2f} s (train {rec['train_seconds']:.2f} s)", flush=True)
            out.append(rec)
    return out


def _stats(secs: list[float]) -> dict[str, float]:
    secs = sorted(secs)
    p90 = secs[min(len(secs) - 1, max(0, round(0.9 * len(secs) + 0.5) - 1))]
    return {
        "median_seconds": round(statistics.median(secs), 3),
        "p90_seconds": round(p90, 3),
        "min_seconds": secs[0],
        "max_seconds": secs[-1],
    }


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """All requests; and without the first (which starts the embedded worker / wakes the scheduler)."""
    secs = [r["seconds"] for r in records]
    return {
        "requests": len(secs),
        **_stats(secs),
        "first_seconds": secs[0],
        "after_first": _stats(secs[1:]) if len(secs) > 1 else None,
        "median_train_seconds": round(statistics.median(r["train_seconds"] for r in records), 3),
        "runs": records,
    }


def bench_embedded(work: Path, n: int) -> dict[str, Any]:
    print("embedded mode (airfoil serve -> airfoil transient worker subprocess, DAG.test)", flush=True)
    home = work / "embedded"
    prepare(home)
    with airfoil_serve(home) as url:
        return summary(time_requests(url, n, timeout=600))


@contextlib.contextmanager
def airflow_database(kind: str, airflow_home: Path) -> Iterator[str]:
    """Airflow's metadata DB: a fresh PostgreSQL database (dropped afterwards) or an SQLite file.

    SQLite serialises every writer; with a scheduler, an api-server, a dag-processor and task
    processes writing at once, Airflow's own requests hit "database is locked" (5 s busy timeout).
    """
    if kind == "postgres" and importlib.util.find_spec("asyncpg") is None:
        # Airflow 3 also opens an async engine: postgresql+asyncpg, which is not installed here.
        print("  Airflow on PostgreSQL needs asyncpg (not installed); using SQLite (WAL)", flush=True)
        kind = "sqlite"
    if kind == "postgres":
        import sqlalchemy as sa

        name = f"airfoil_bench_airflow_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
        except sa.exc.OperationalError as exc:
            print(f"  PostgreSQL at {PG_ADMIN} is not reachable ({exc.orig}); using SQLite", flush=True)
            kind = "sqlite"
        else:
            try:
                yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
            finally:
                with admin.connect() as conn:
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                admin.dispose()
            return
    yield f"sqlite:///{airflow_home / 'airflow.db'}"


def bench_airflow(work: Path, n: int, db_kind: str) -> dict[str, Any]:
    print("airflow mode (airfoil serve -> Airflow api-server REST -> scheduler, LocalExecutor)", flush=True)
    home = work / "airflow-mode"
    prepare(home)
    airflow_home = work / "airflow"
    airflow_home.mkdir(parents=True)
    with airflow_database(db_kind, airflow_home) as db_url:
        deployment = Deployment(home=airflow_home, port=free_port(), db_url=db_url)
        result = _bench_airflow(n, home, deployment)
    result["airflow_metadata_db"] = db_url.split(":", 1)[0].split("+", 1)[0]
    return result


def _bench_airflow(n: int, home: Path, deployment: Deployment) -> dict[str, Any]:
    # what the tasks need: airfoil's home (artifacts, prediction store) and the spec
    env = deployment.environment(clean_env(), AIRFOIL_HOME=str(home), AIRFOIL_PIPELINES=str(SPEC))
    base, password = deployment.url, deployment.password
    t = time.perf_counter()
    migrate = subprocess.run(
        [str(AIRFLOW), "db", "migrate"], check=False, env=env, capture_output=True, text=True
    )
    if migrate.returncode != 0:
        raise SystemExit(f"airflow db migrate failed:\n{migrate.stdout[-2000:]}\n{migrate.stderr[-3000:]}")
    deployment.use_wal()
    print(f"  airflow db migrate in {time.perf_counter() - t:.1f} s", flush=True)
    logs = deployment.home
    commands = deployment.commands()
    with contextlib.ExitStack() as stack:
        procs = {
            name: stack.enter_context(started(name, cmd, env, logs / f"{name.removeprefix('airflow ')}.log"))
            for name, cmd in commands.items()
        }
        api = procs["airflow api-server"]
        wait_until(
            "airflow api-server",
            lambda: httpx.get(f"{base}/api/v2/monitor/health").status_code == 200,
            180,
            api,
        )
        token = httpx.post(f"{base}/auth/token", json={"username": USER, "password": password}).json()[
            "access_token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        t = time.perf_counter()
        wait_until(
            "the DAG transient_weather__transient in Airflow",
            lambda: httpx.get(f"{base}/api/v2/dags/{NAME}__transient", headers=auth).status_code == 200,
            240,
        )
        print(f"  DAG parsed and visible after {time.perf_counter() - t:.1f} s", flush=True)
        with airfoil_serve(
            home,
            AIRFOIL_AIRFLOW_API_URL=base,
            AIRFOIL_AIRFLOW_API_USER=USER,
            AIRFOIL_AIRFLOW_API_PASSWORD=password,
        ) as url:
            result = summary(time_requests(url, n, timeout=600))
        runs = httpx.get(f"{base}/api/v2/dags/{NAME}__transient/dagRuns", headers=auth).json()
        result["airflow_dag_runs"] = sorted((r["dag_run_id"], r["state"]) for r in runs["dag_runs"])
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--skip-airflow", action="store_true")
    parser.add_argument(
        "--airflow-db",
        choices=["postgres", "sqlite"],
        default="sqlite",
        help="Airflow's metadata DB in airflow mode (postgres: a temporary database on 127.0.0.1:5432; "
        "needs asyncpg)",
    )
    parser.add_argument(
        "--keep", type=Path, help="work in this folder and keep it (default: a temp dir, removed)"
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="airfoil-bench-transient-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "benchmark": "transient: POST /v1/models/{name}/transient until GET /v1/predictions/{id} is done",
        "pipeline": str(SPEC.relative_to(ROOT)),
        "rows_per_request": 20,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    try:
        results["embedded"] = bench_embedded(work, args.requests)
        if not args.skip_airflow:
            try:
                results["airflow"] = bench_airflow(work, args.requests, args.airflow_db)
            except (SystemExit, subprocess.CalledProcessError) as exc:
                results["airflow"] = {"error": str(exc), "logs": str(work / "airflow")}
                print(f"airflow mode failed: {exc} (logs under {work / 'airflow'})", flush=True)
                args.keep = args.keep or work
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "transient.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    for mode in ("embedded", "airflow"):
        r = results.get(mode)
        if r and "median_seconds" in r:
            print(
                f"{mode:9s} POST -> done: median {r['median_seconds']:.2f} s, p90 {r['p90_seconds']:.2f} s "
                f"(min {r['min_seconds']:.2f}, max {r['max_seconds']:.2f}; training itself median "
                f"{r['median_train_seconds']:.2f} s) over {r['requests']} requests"
            )
            if r["after_first"]:
                a = r["after_first"]
                print(
                    f"{'':9s} first request {r['first_seconds']:.2f} s; the others: median "
                    f"{a['median_seconds']:.2f} s, p90 {a['p90_seconds']:.2f} s"
                )
        elif r:
            print(f"{mode:9s} failed: {r['error']}")
    print(f"results: {RESULTS / 'transient.json'}")


if __name__ == "__main__":
    main()
