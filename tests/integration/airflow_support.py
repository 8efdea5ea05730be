"""A real Airflow 3 deployment for integration tests: api-server, scheduler and dag-processor.

Its settings are `airfoil.airflow.deployment.Deployment`'s (bench/transient.py uses the same): a
temporary AIRFLOW_HOME whose DAG folder holds airfoil's DAG file, LocalExecutor, the
SimpleAuthManager with one admin user and a passwords file, and an SQLite metadata DB in WAL mode
with a 60 s lock timeout.

Every process runs in its own process group (the scheduler and the api-server start children) and
is stopped by its group id: SIGTERM to all of them at once, then SIGKILL to whatever is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airfoil.airflow.deployment import USER

BIN = Path(sys.executable).parent
AIRFLOW = BIN / "airflow"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any AIRFLOW*, AIRFOIL_* or MLFLOW* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRFOIL_", "MLFLOW"))}
    env.update(PYTHONWARNINGS="ignore", COLUMNS="160", **extra)
    return env


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"({path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Processes:
    """Background processes, each in its own session, with their output in a log file."""

    logs: dict[str, Path] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.logs[name] = log
        self.procs[name] = proc
        return proc

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited {proc.returncode}\n{self.report()}")

    def report(self, lines: int = 60) -> str:
        """The tail of every process's log, for an assertion message."""
        return "\n".join(
            f"----- {name} (pid {self.procs[name].pid}, exit {self.procs[name].poll()}): {log}\n"
            f"{tail(log, lines)}"
            for name, log in self.logs.items()
        )

    def stop(self, grace: float = 15) -> None:
        """SIGTERM every process group, wait up to `grace` s in all, then SIGKILL the groups."""
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            # also the children left behind by a leader that has exited (executor workers, serve-logs)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


def wait_until(
    what: str, check: Callable[[], bool], timeout: float, procs: Processes, interval: float = 0.25
) -> None:
    """Poll `check` until it is true; fail with every log if a process exits or the deadline passes."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        procs.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{procs.report()}")
        time.sleep(interval)


@dataclass
class Airflow:
    """A running Airflow deployment: its base URL and an admin user."""

    url: str
    password: str
    home: Path
    procs: Processes
    _token: str | None = None

    @property
    def auth(self) -> dict[str, str]:
        import httpx

        if self._token is None:
            resp = httpx.post(
                f"{self.url}/auth/token",
                json={"username": USER, "password": self.password},
                timeout=30,
            )
            assert resp.status_code in (200, 201), resp.text
            self._token = resp.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def client(self) -> Any:
        import httpx

        return httpx.Client(base_url=self.url, headers=self.auth, timeout=30)

    def report(self, task_logs: int = 2) -> str:
        """The processes' log tails and the newest task logs (train_predict's traceback is there)."""
        logs = sorted(
            (p for p in (self.home / "logs").glob("dag_id=*/**/*") if p.is_file()),
            key=lambda p: p.stat().st_mtime,
        )[-task_logs:]
        tasks = "".join(f"\n----- task log {p}\n{tail(p, 40)}" for p in logs)
        return self.procs.report() + tasks


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def migrate(airflow_home: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """`airflow db migrate` in the background (it overlaps with other set-up); wait with `finish_migrate`."""
    return subprocess.Popen(
        [str(AIRFLOW), "db", "migrate"],
        env=env,
        cwd=airflow_home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@contextlib.contextmanager
def airflow_deployment(
    airflow_home: Path,
    dag_ids: list[str],
    *,
    while_migrating: Callable[[], None] | None = None,
    timeout: float = 180,
    **task_env: str,
) -> Iterator[Airflow]:
    """api-server, scheduler and dag-processor on `airflow_home`; yields once `dag_ids` are all visible.

    `task_env` (AIRFOIL_HOME, AIRFOIL_PIPELINES, AIRFOIL_STORE_URL...) reaches the DAG file's parse
    and the tasks. `while_migrating` runs while `airflow db migrate` does (e.g. `airfoil run --only
    prepare`). Every process is stopped on exit, also when start-up fails.
    """
    import httpx

    from airfoil.airflow.deployment import Deployment

    airflow_home.mkdir(parents=True, exist_ok=True)
    deployment = Deployment(home=airflow_home, port=free_port())
    env = deployment.environment(clean_env(), **task_env)
    migration = migrate(airflow_home, env)
    try:
        if while_migrating is not None:
            while_migrating()
        out, _ = migration.communicate(timeout=180)
    finally:
        if migration.poll() is None:
            migration.kill()
            migration.wait(timeout=10)
    if migration.returncode != 0:
        raise AssertionError(f"airflow db migrate exited {migration.returncode}:\n{out[-5000:]}")
    deployment.use_wal()

    procs = Processes()
    airflow = Airflow(url=deployment.url, password=deployment.password, home=airflow_home, procs=procs)
    try:
        for name, cmd in deployment.commands().items():
            procs.start(name, cmd, env, airflow_home / f"{name.removeprefix('airflow ')}.log")
        wait_until(
            "airflow api-server healthy",
            lambda: httpx.get(f"{airflow.url}/api/v2/monitor/health", timeout=5).status_code == 200,
            timeout,
            procs,
        )
        for dag in dag_ids:
            wait_until(
                f"the DAG {dag} visible in Airflow",
                lambda dag=dag: (
                    httpx.get(f"{airflow.url}/api/v2/dags/{dag}", headers=airflow.auth, timeout=5).status_code
                    == 200
                ),
                timeout,
                procs,
            )
        yield airflow
    finally:
        procs.stop()
