"""Transient requests through a real Airflow 3 deployment (AirflowRunner), not the embedded runner.

One module-wide set-up: examples/transient_weather copied under a unique name and prepared; an
Airflow api-server, scheduler (LocalExecutor) and dag-processor on a temporary AIRFLOW_HOME whose
DAG folder holds airfoil's DAG file (tests/integration/airflow_support.py, as bench/transient.py);
and `airfoil serve` with AIRFOIL_AIRFLOW_API_URL, so each request is a DAG run
`transient__<request_id>` of `<name>__transient` triggered through Airflow's REST API. The server
also knows a second transient pipeline, `ghost`, whose DAG Airflow does not have.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from airfoil.airflow.deployment import USER as AIRFLOW_USER
from tests.conftest import EXAMPLES
from tests.integration.airflow_support import (
    BIN,
    Airflow,
    Processes,
    airflow_deployment,
    clean_env,
    free_port,
    wait_until,
)
from tests.integration.conftest import API_TOKEN, Airfoil, store_batches, store_count

pytestmark = pytest.mark.integration

COLUMNS = ["precipitation", "temp_max", "temp_min", "wind", "month"]
ROWS = [
    [0.0, 21.1, 11.7, 3.2, 7],
    [12.5, 8.3, 2.2, 5.0, 12],
    [1.0, 15.0, None, 2.5, 4],  # a null in a nullable column: imputed, scored
    ["lots", 10.0, 3.0, 1.0, 1],  # not a number: rejected, still one prediction row
]
DONE_TIMEOUT = 120


@dataclass
class Serve:
    url: str
    procs: Processes

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=60)


@dataclass
class Env:
    airfoil: Airfoil
    airflow: Airflow
    serve: Serve
    store_url: str
    name: str  # prepared, and a DAG in Airflow
    ghost: str  # known to `airfoil serve` only
    serve_settings: dict[str, str]  # the AIRFOIL_* settings `serve` was started with

    @property
    def dag(self) -> str:
        return f"{self.name}__transient"

    def report(self) -> str:
        """Every process's log tail, for assertion messages."""
        return f"{self.airflow.report()}\n{self.serve.procs.report()}"

    def batches(self, pipeline: str) -> list[Any]:
        return store_batches(self.store_url, pipeline)

    def stored_rows(self, batch_id: int) -> dict[str, int]:
        return store_count(self.store_url, batch_id)


def _copy(root: Path, key: str, name: str) -> Path:
    dest = root / key
    shutil.copytree(EXAMPLES / "transient_weather", dest)
    spec = dest / "pipeline.yaml"
    text = spec.read_text()
    assert "name: transient_weather" in text
    spec.write_text(text.replace("name: transient_weather", f"name: {name}"))
    return spec


def start_serve(af: Airfoil, log: Path, **env: str) -> Serve:
    """`airfoil serve` in its own process group; the caller stops `serve.procs`."""
    port = free_port()
    environ = clean_env(
        AIRFOIL_HOME=str(af.home), AIRFOIL_API_TOKEN=API_TOKEN, AIRFOIL_POLL_SECONDS="0.5", **env
    )
    procs = Processes()
    serve = Serve(url=f"http://127.0.0.1:{port}", procs=procs)
    procs.start("airfoil serve", [str(BIN / "airfoil"), "serve", "--port", str(port)], environ, log)
    try:
        wait_until(
            "airfoil serve ready",
            lambda: httpx.get(f"{serve.url}/v2/health/ready", timeout=2).status_code == 200,
            90,
            procs,
            interval=0.2,
        )
    except BaseException:
        procs.stop()
        raise
    return serve


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("transient-airflow")
    af = Airfoil(home=root / "home", workdir=root)
    tag = uuid.uuid4().hex[:8]
    name, ghost = f"twa_{tag}", f"twa_ghost_{tag}"
    spec, ghost_spec = _copy(root, "ok", name), _copy(root, "ghost", ghost)
    store_url = f"sqlite:///{af.home / 'predictions.db'}"
    with airflow_deployment(
        root / "airflow",
        [f"{name}__transient"],
        while_migrating=lambda: af("run", str(spec), "--only", "prepare"),
        AIRFOIL_HOME=str(af.home),
        AIRFOIL_PIPELINES=str(spec),  # Airflow knows `name` only
        AIRFOIL_STORE_URL=store_url,
    ) as airflow:
        settings = {
            "AIRFOIL_PIPELINES": f"{spec}:{ghost_spec}",
            "AIRFOIL_STORE_URL": store_url,
            "AIRFOIL_AIRFLOW_API_URL": airflow.url,
            "AIRFOIL_AIRFLOW_API_USER": AIRFLOW_USER,
            "AIRFOIL_AIRFLOW_API_PASSWORD": airflow.password,
        }
        serve = start_serve(af, root / "serve.log", **settings)
        try:
            yield Env(af, airflow, serve, store_url, name, ghost, settings)
        finally:
            serve.procs.stop()


def _body(request_id: str, rows: list[list[Any]] = ROWS) -> dict[str, Any]:
    return {"request_id": request_id, "dataframe_split": {"columns": COLUMNS, "data": rows}}


def _status(env: Env, request_id: str) -> dict[str, Any]:
    with env.serve.client() as client:
        resp = client.get(f"/v1/predictions/{request_id}")
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def _wait(
    env: Env, request_id: str, until: tuple[str, ...] = ("done", "failed"), timeout: float = DONE_TIMEOUT
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        out = _status(env, request_id)
        if out["status"] in until or out["status"] in ("done", "failed"):
            return out
        if time.monotonic() > deadline:
            raise AssertionError(
                f"request {request_id} still {out['status']} after {timeout} s\n{env.report()}"
            )
        time.sleep(0.1)


def _airflow_run(env: Env, run_id: str, timeout: float = 60) -> dict[str, Any]:
    """Airflow's DAG run, once it has finished (the task stores `done` just before it ends)."""
    deadline = time.monotonic() + timeout
    with env.airflow.client() as client:
        while True:
            resp = client.get(f"/api/v2/dags/{env.dag}/dagRuns/{run_id}")
            assert resp.status_code == 200, f"{resp.status_code} {resp.text}\n{env.report()}"
            run: dict[str, Any] = resp.json()
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"DAG run {run_id} still {run['state']} after {timeout} s\n{env.report()}"
                )
            time.sleep(0.25)


def _airflow_run_ids(env: Env) -> list[str]:
    with env.airflow.client() as client:
        resp = client.get(f"/api/v2/dags/{env.dag}/dagRuns", params={"limit": 100})
    assert resp.status_code == 200, resp.text
    return [r["dag_run_id"] for r in resp.json()["dag_runs"]]


def test_request_round_trip_through_airflow(env: Env) -> None:
    request_id = f"rt-{uuid.uuid4().hex[:12]}"
    run_id = f"transient__{request_id}"
    with env.serve.client() as client:
        resp = client.post(f"/v1/models/{env.name}/transient", json=_body(request_id))
    assert resp.status_code == 202, f"{resp.text}\n{env.report()}"
    accepted = resp.json()
    assert accepted["request_id"] == request_id
    assert accepted["status"] in ("pending", "running")
    assert accepted["dag_id"] == env.dag
    assert accepted["dag_run_id"] == run_id

    out = _wait(env, request_id)
    assert out["status"] == "done", f"{out}\n{env.report()}"
    assert out["dag_run_id"] == run_id
    assert len(out["predictions"]) == len(ROWS)
    assert [p["row"] for p in out["predictions"]] == list(range(len(ROWS)))
    assert out["rows"] == {"total": 4, "scored": 3, "rejected": 1}
    assert "'lots' is not a number" in out["predictions"][3]["rejected"]
    lineage = out["lineage"]
    assert lineage["dag_run_id"] == run_id
    assert lineage["dag_id"] == env.dag

    run = _airflow_run(env, run_id)
    assert run["state"] == "success", f"{run}\n{env.report()}"
    assert run["conf"]["request_id"] == request_id


def test_same_request_id_is_one_dag_run_and_one_batch(env: Env) -> None:
    request_id = f"dup-{uuid.uuid4().hex[:12]}"
    run_id = f"transient__{request_id}"
    body = _body(request_id, ROWS[:2])
    with env.serve.client() as client:
        first = client.post(f"/v1/models/{env.name}/transient", json=body)
        assert first.status_code == 202, f"{first.text}\n{env.report()}"
        # At once (pending or running), and with other rows: the existing request, nothing triggered.
        again = client.post(f"/v1/models/{env.name}/transient", json=_body(request_id, ROWS[:1]))
        assert again.status_code == 200, again.text
        assert again.json()["request_id"] == request_id
        assert again.json()["status"] in ("pending", "running", "done"), again.json()
        # Once the task has started, if the poll catches it running.
        seen = _wait(env, request_id, until=("running",))
        if seen["status"] == "running":
            while_running = client.post(f"/v1/models/{env.name}/transient", json=body)
            assert while_running.status_code == 200, while_running.text
            assert while_running.json()["status"] in ("running", "done")

    # Airflow itself refuses a second run with the request's run id.
    with env.airflow.client() as client:
        direct = client.post(
            f"/api/v2/dags/{env.dag}/dagRuns",
            json={"dag_run_id": run_id, "logical_date": None, "conf": {"request_id": request_id}},
        )
    assert direct.status_code == 409, direct.text

    out = _wait(env, request_id)
    assert out["status"] == "done", f"{out}\n{env.report()}"
    assert len(out["predictions"]) == 2
    with env.serve.client() as client:
        after = client.post(f"/v1/models/{env.name}/transient", json=body)
    assert after.status_code == 200, after.text
    assert after.json()["status"] == "done"
    assert after.json()["dag_run_id"] == run_id

    assert _airflow_run(env, run_id)["state"] == "success"
    assert _airflow_run_ids(env).count(run_id) == 1
    mine = [b for b in env.batches(env.name) if b.batch_key == request_id]
    assert len(mine) == 1, mine
    assert mine[0].status == "done" and mine[0].dag_run_id == run_id
    assert env.stored_rows(mine[0].id) == {"rows": 2, "scored": 2, "rejected": 0}


def test_dag_unknown_to_airflow_is_502_and_failed_with_the_reason(env: Env) -> None:
    request_id = f"ghost-{uuid.uuid4().hex[:12]}"
    with env.serve.client() as client:
        resp = client.post(f"/v1/models/{env.ghost}/transient", json=_body(request_id))
    assert resp.status_code == 502, resp.text
    out = resp.json()
    assert out["status"] == "failed"
    assert f"has no DAG {env.ghost}__transient" in out["error"]
    stored = _status(env, request_id)
    assert stored["status"] == "failed" and stored["error"] == out["error"]
    assert "predictions" not in stored


def test_wrong_airflow_password_is_502_and_failed_with_the_reason(env: Env, tmp_path: Path) -> None:
    wrong = start_serve(
        env.airfoil,
        tmp_path / "serve-wrong-password.log",
        **{**env.serve_settings, "AIRFOIL_AIRFLOW_API_PASSWORD": "not-the-password"},
    )
    try:
        request_id = f"auth-{uuid.uuid4().hex[:12]}"
        with wrong.client() as client:
            resp = client.post(f"/v1/models/{env.name}/transient", json=_body(request_id))
            assert resp.status_code == 502, resp.text
            assert resp.json()["status"] == "failed"
            error = resp.json()["error"]
            assert "refused a token" in error and "AIRFOIL_AIRFLOW_API_PASSWORD" in error
            stored = client.get(f"/v1/predictions/{request_id}").json()
        assert stored["status"] == "failed" and stored["error"] == error
        assert f"transient__{request_id}" not in _airflow_run_ids(env)
    finally:
        wrong.procs.stop()
