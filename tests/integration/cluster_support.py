"""Helpers of the cluster tests: `airfoil` with the stack's configuration, Airflow's REST API, the
serving API, waiting for runs and tasks, killing a component as if its machine died."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Airfoil


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

    @property
    def spec(self) -> str:
        """The first pipeline's spec."""
        return self.extra["AIRFOIL_PIPELINES"].split(os.pathsep)[0]

    def secrets(self) -> dict[str, str]:
        found: dict[str, str] = json.loads((self.home / "secrets.json").read_text())
        return found

    def state(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads((self.home / "stack" / "stack.json").read_text())
        return found


def stack_ports(af: ClusterAirfoil) -> tuple[int, int, int]:
    a, m, s = (int(p) for p in af.extra["PORTS"].split())
    return a, m, s


def airflow_client(af: ClusterAirfoil) -> httpx.Client:
    url = f"http://127.0.0.1:{stack_ports(af)[0]}"
    pw = af.secrets()["admin_password"]
    token = httpx.post(f"{url}/auth/token", json={"username": "admin", "password": pw}, timeout=30).json()
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=30
    )


def serving_models(af: ClusterAirfoil) -> dict[str, Any]:
    url = f"http://127.0.0.1:{stack_ports(af)[2]}/v1/models"
    found: dict[str, Any] = httpx.get(
        url, headers={"Authorization": f"Bearer {af.secrets()['api_token']}"}, timeout=30
    ).json()
    return found


def trigger(c: httpx.Client, dag: str) -> str:
    resp = c.post(f"/api/v2/dags/{dag}/dagRuns", json={"logical_date": None})
    assert resp.status_code in (200, 201), resp.text
    run_id: str = resp.json()["dag_run_id"]
    return run_id


def wait_task(
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


def wait_run(c: httpx.Client, dag: str, run_id: str, timeout: float = 300) -> str:
    """The run's final state. The api-server may not answer for a moment (its database restarting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            resp = c.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}")
        except httpx.TransportError:
            resp = None
        if resp is not None and resp.status_code == 200 and resp.json()["state"] in ("success", "failed"):
            return str(resp.json()["state"])
        time.sleep(1)
    raise AssertionError(f"{dag} {run_id} did not finish within {timeout} s")


def gone(pid: int) -> bool:
    """No such process, or only a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def kill_component(af: ClusterAirfoil, component: str) -> int:
    """kill -9 a component and everything it started, as if its machine died (Airflow's task
    supervisors leave the worker's process group for their own, so a group kill would spare them)."""
    from airfoil.airflow.processes import session

    pid = next(p["pid"] for p in af.state()["processes"] if p["name"] == component)
    os.killpg(pid, signal.SIGKILL)
    for child in session(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    return pid


def restarted_by_supervisor(af: ClusterAirfoil, component: str, old_pid: int, timeout: float = 90) -> int:
    """The new pid of `component` once `airfoil supervise` has started it again (its log says so)."""
    from airfoil.airflow.processes import alive
    from airfoil.airflow.stack import Process

    log = af.home / "stack" / "logs" / "airfoil-supervisor.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = next(Process(**p) for p in af.state()["processes"] if p["name"] == component)
        if p.pid != old_pid and alive(p) and f"{component} had exited" in log.read_text():
            return p.pid
        time.sleep(0.5)
    raise AssertionError(f"{component} was not started again within {timeout} s: {log.read_text()[-2000:]}")


def wait_healthy(af: ClusterAirfoil, timeout: float = 120) -> list[dict[str, Any]]:
    """`airfoil status --json` once every component is healthy, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        rows: list[dict[str, Any]] = json.loads(af("status", "--json", check=False).stdout or "[]")
        if rows and all(r["healthy"] for r in rows):
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(2)
