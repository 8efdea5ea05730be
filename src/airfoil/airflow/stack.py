"""`airfoil up`: a production-shaped stack from Airflow's and MLflow's own commands.

api-server, scheduler, dag-processor, triggerer (and N `airflow celery worker`s), an `mlflow server` and
`airfoil serve`, each in its own process group, logging under `AIRFOIL_HOME/stack/logs`. What `up`
started is recorded in `AIRFOIL_HOME/stack/stack.json` (pid, process group, command), so `status` and
`down` act on those processes and nothing else. The secrets every Airflow process must share are
generated once into `AIRFOIL_HOME/secrets.json` (mode 600). This module starts processes; it imports
no Airflow.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from airfoil.airflow.deployment import Deployment
from airfoil.airflow.processes import alive, session
from airfoil.airflow.services import ensure_database, reachable
from airfoil.errors import AirfoilError
from airfoil.settings import Settings

BIN = Path(sys.executable).parent
USER = "admin"
SUPERVISOR = "airfoil supervisor"
CONCURRENCY = 2  # task slots per Celery worker


@dataclass
class Ports:
    airflow: int = 8080
    mlflow: int = 5000
    api: int = 8000


@dataclass
class Process:
    name: str
    pid: int
    cmd: list[str]
    log: str


@dataclass
class StackState:
    """What `up` started: recorded in stack.json."""

    executor: str
    workers: int
    ports: Ports
    processes: list[Process] = field(default_factory=list)
    started_at: float = 0.0

    def dumps(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def loads(cls, text: str) -> StackState:
        raw = json.loads(text)
        return cls(
            executor=raw["executor"],
            workers=raw["workers"],
            ports=Ports(**raw["ports"]),
            processes=[Process(**p) for p in raw["processes"]],
            started_at=raw.get("started_at", 0.0),
        )


def secrets_file(settings: Settings) -> Path:
    return settings.home / "secrets.json"


def shared_secrets(settings: Settings) -> dict[str, str]:
    """The JWT secret, API secret key, Fernet key, admin password and API token: generated once, mode 600."""
    from cryptography.fernet import Fernet

    path = secrets_file(settings)
    found: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    makers = {
        "jwt_secret": lambda: secrets.token_urlsafe(32),
        "api_secret_key": lambda: secrets.token_urlsafe(32),
        "fernet_key": lambda: Fernet.generate_key().decode(),
        "admin_password": lambda: secrets.token_urlsafe(12),
        "api_token": lambda: secrets.token_urlsafe(24),  # `airfoil serve`'s bearer token
    }
    missing = {k: make() for k, make in makers.items() if k not in found}
    if missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({**found, **missing}, out, indent=2)
        os.replace(tmp, path)
    return {**found, **missing}


def log_file(stack_dir: Path, component: str) -> Path:
    """Where a component of the stack logs: `stack/logs/<component, spaces as dashes>.log`."""
    return stack_dir / "logs" / f"{component.replace(' ', '-')}.log"


def celery_worker_of(stack_dir: Path, run_id: str, task_id: str, workers: int) -> int:
    """Which Celery worker (1..workers) received the task `task_id` of the run `run_id`, by its log."""
    for i in range(1, workers + 1):
        with log_file(stack_dir, f"airflow celery worker {i}").open() as lines:
            if any(f"run_id='{run_id}'" in line and f"task_id='{task_id}'" in line for line in lines):
                return i
    raise LookupError(f"no Celery worker's log names task {task_id!r} of run {run_id!r}")


class Stack:
    """The processes of one `airfoil up` under one AIRFOIL_HOME."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.dir = settings.home / "stack"
        self.state_file = self.dir / "stack.json"

    # --- configuration -------------------------------------------------------------------------
    def check(self, executor: str) -> None:
        """A clear error, naming the setting to fix, when what the executor needs is missing or down."""
        s = self.settings
        if executor == "celery":
            if s.airflow_db_url.startswith("sqlite"):
                raise AirfoilError(
                    "--executor celery needs a database server for Airflow's metadata: set "
                    "AIRFOIL_AIRFLOW_DB_URL (e.g. postgresql+psycopg2://user@127.0.0.1:5432/airflow)"
                )
            if not s.broker_url:
                raise AirfoilError(
                    "--executor celery needs a broker: set AIRFOIL_BROKER_URL (e.g. redis://127.0.0.1:6379/0)"
                )
            reachable(s.broker_url, "AIRFOIL_BROKER_URL")
        for url, key in (
            (s.airflow_db_url, "AIRFOIL_AIRFLOW_DB_URL"),
            (s.mlflow_db_url, "AIRFOIL_MLFLOW_DB_URL"),
            (s.store_url, "AIRFOIL_STORE_URL"),
        ):
            if url.startswith("postgres"):
                ensure_database(url, key)

    def environment(self, executor: str, workers: int, ports: Ports) -> dict[str, str]:
        """What every process of the stack shares: the Airflow deployment's settings, the secrets, and
        airfoil's settings pointing at the stack's MLflow server and api-server."""
        from airfoil.spec.catalog import spec_roots

        s, shared = self.settings, shared_secrets(self.settings)
        deployment = Deployment(
            home=s.airflow_home,
            port=ports.airflow,
            db_url=s.airflow_db_url,
            password=shared["admin_password"],
            jwt_secret=shared["jwt_secret"],
            user=USER,
            dags=s.dags_folder,
            executor="CeleryExecutor" if executor == "celery" else "LocalExecutor",
            # as many tasks queued as there are slots: none waits in the broker, where a long wait
            # would count against [scheduler] task_queued_timeout
            parallelism=CONCURRENCY * workers if executor == "celery" else 4,
            quick=False,  # Airflow's own idle sleep and DAG folder refresh
        )
        env = deployment.environment(
            {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "MLFLOW_"))},
            AIRFLOW__API__SECRET_KEY=shared["api_secret_key"],
            AIRFLOW__CORE__FERNET_KEY=shared["fernet_key"],
            AIRFOIL_HOME=str(s.home),
            AIRFOIL_PIPELINES=os.pathsep.join(str(p) for p in spec_roots(s)),
            # the tasks and `airfoil serve` use the stack's MLflow server as tracking server and registry
            AIRFOIL_TRACKING_URI=f"http://127.0.0.1:{ports.mlflow}",
            AIRFOIL_REGISTRY_URI=f"http://127.0.0.1:{ports.mlflow}",
            AIRFOIL_AIRFLOW_UI_URL=deployment.url,
            AIRFOIL_AIRFLOW_API_URL=deployment.url,
            AIRFOIL_AIRFLOW_API_USER=USER,
            AIRFOIL_AIRFLOW_API_PASSWORD=shared["admin_password"],
            AIRFOIL_API_TOKEN=shared["api_token"],
            PYTHONUNBUFFERED="1",
        )
        if executor == "celery":
            assert s.broker_url
            env["AIRFLOW__CELERY__BROKER_URL"] = s.broker_url
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + s.airflow_db_url.replace("+psycopg2", "")
        # Airflow settings the user exported win (e.g. shorter heartbeat timeouts in tests)
        env.update({k: v for k, v in os.environ.items() if k.startswith("AIRFLOW__")})
        return env

    def commands(self, executor: str, workers: int, ports: Ports) -> dict[str, list[str]]:
        airflow, s = str(BIN / "airflow"), self.settings
        cmds = {
            "mlflow server": [
                str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(ports.mlflow),
                "--backend-store-uri", s.mlflow_db_url, "--serve-artifacts",
                "--artifacts-destination", s.mlflow_artifacts, "--workers", "1",
            ],
            "airflow api-server": [
                airflow, "api-server", "--host", "127.0.0.1", "--port", str(ports.airflow),
            ],
            "airflow scheduler": [airflow, "scheduler"],
            "airflow dag-processor": [airflow, "dag-processor"],
            "airflow triggerer": [airflow, "triggerer"],
        }  # fmt: skip
        for i in range(1, workers + 1 if executor == "celery" else 1):
            cmds[f"airflow celery worker {i}"] = [
                airflow, "celery", "worker", "--celery-hostname", f"worker{i}@%h",
                "--concurrency", str(CONCURRENCY), "--without-mingle", "--without-gossip",
            ]  # fmt: skip
        cmds["airfoil serve"] = [
            str(BIN / "airfoil"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(ports.api),
        ]
        return cmds

    # --- processes ------------------------------------------------------------------------------
    def state(self) -> StackState | None:
        return StackState.loads(self.state_file.read_text()) if self.state_file.exists() else None

    def running(self) -> list[Process]:
        """The recorded processes that are still alive (and still the processes `up` started)."""
        state = self.state()
        return [p for p in state.processes if alive(p)] if state else []

    def start(self, executor: str, workers: int, ports: Ports) -> StackState:
        """Migrate Airflow's DB, then start every process; recorded as soon as each one starts."""
        env = self.environment(executor, workers, ports)
        logs = self.dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        migrate = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True, check=False
        )
        (logs / "airflow-db-migrate.log").write_text(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            raise AirfoilError(
                "airflow db migrate failed on AIRFOIL_AIRFLOW_DB_URL; see "
                f"{logs / 'airflow-db-migrate.log'}:\n"
                f"{(migrate.stdout + migrate.stderr)[-1500:]}"
            )
        state = StackState(executor, workers, ports, started_at=time.time())
        for name, cmd in self.commands(executor, workers, ports).items():
            state.processes.append(self._spawn(name, cmd, env))
            self._save(state)
        return state

    def restart_dead(self, due: Callable[[Process], bool] = lambda p: True) -> list[str]:
        """Start again the recorded components whose process died (a killed scheduler or worker), with
        the stack's own command and environment, if `due`; the live ones are left alone."""
        with self.locked():
            state = self.state()
            if state is None:
                return []
            dead = [i for i, p in enumerate(state.processes) if not alive(p) and due(p)]
            if not dead:
                return []
            env = self.environment(state.executor, state.workers, state.ports)
            for i in dead:
                p = state.processes[i]
                state.processes[i] = self._spawn(p.name, p.cmd, env)
            self._save(state)
        return [state.processes[i].name for i in dead]

    def start_supervisor(self) -> Process:
        """`airfoil supervise`, recorded with the rest: it restarts what exits from now on."""
        with self.locked():
            state = self.state()
            assert state is not None
            env = self.environment(state.executor, state.workers, state.ports)
            proc = self._spawn(SUPERVISOR, [str(BIN / "airfoil"), "supervise"], env)
            state.processes.append(proc)
            self._save(state)
        return proc

    def _save(self, state: StackState) -> None:
        """Write stack.json whole (readers never see half of it)."""
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.dumps())
        os.replace(tmp, self.state_file)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One writer of stack.json at a time: `up`, the supervisor and `down`."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "stack.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> Process:
        log = log_file(self.dir, name)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                cmd, env=env, cwd=self.settings.home, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        return Process(name, proc.pid, cmd, str(log))

    def stop(self, grace: float = 10.0) -> list[str]:
        """SIGTERM each recorded process group, SIGKILL what is left after `grace`; forget the stack."""
        with self.locked():  # the supervisor restarts nothing meanwhile; it is stopped first
            return self._stop(grace)

    def _stop(self, grace: float) -> list[str]:
        state = self.state()
        if state is None:
            return []
        targets = [p for p in state.processes if alive(p)]
        for p in targets:  # the supervisor first, so that it restarts none of the others
            if p.name == SUPERVISOR:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGKILL)
        for p in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(session(p.pid) for p in targets):
            time.sleep(0.2)
        # What is left, in the whole session: Airflow's task supervisors put themselves in their own
        # process group, so a group kill alone would leave a running task behind.
        for p in state.processes:
            for pid in session(p.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and any(session(p.pid) for p in state.processes):
            time.sleep(0.1)
        self.state_file.unlink(missing_ok=True)
        return [p.name for p in targets]
