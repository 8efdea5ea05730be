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
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from airfoil.airflow import sqlite
from airfoil.airflow.dagfolder import install_dag_file
from airfoil.airflow.processes import alive, session
from airfoil.errors import AirfoilError
from airfoil.settings import Settings

BIN = Path(sys.executable).parent
USER = "admin"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


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
            _reachable(s.broker_url, "AIRFOIL_BROKER_URL")
        for url, key in (
            (s.airflow_db_url, "AIRFOIL_AIRFLOW_DB_URL"),
            (s.mlflow_db_url, "AIRFOIL_MLFLOW_DB_URL"),
        ):
            if url.startswith("postgres"):
                ensure_database(url, key)

    def environment(self, executor: str, ports: Ports) -> dict[str, str]:
        """What every process of the stack shares: Airflow's settings, airfoil's, the secrets."""
        from airfoil.spec.catalog import spec_roots

        s, shared = self.settings, shared_secrets(self.settings)
        airflow_url = f"http://127.0.0.1:{ports.airflow}"
        passwords = self.dir / "passwords.json"
        self.dir.mkdir(parents=True, exist_ok=True)
        passwords.write_text(json.dumps({USER: shared["admin_password"]}))
        passwords.chmod(0o600)
        install_dag_file(s.dags_folder)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "MLFLOW_"))},
            "AIRFLOW_HOME": str(s.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(s.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor" if executor == "celery" else "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": s.airflow_db_url,
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": shared["jwt_secret"],
            "AIRFLOW__API__SECRET_KEY": shared["api_secret_key"],
            "AIRFLOW__CORE__FERNET_KEY": shared["fernet_key"],
            "AIRFLOW__API__BASE_URL": airflow_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{airflow_url}/execution/",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(s.airflow_home / "logs"),
            "AIRFOIL_HOME": str(s.home),
            "AIRFOIL_PIPELINES": os.pathsep.join(str(p) for p in spec_roots(s)),
            # the tasks and `airfoil serve` use the stack's MLflow server as tracking server and registry
            "AIRFOIL_TRACKING_URI": f"http://127.0.0.1:{ports.mlflow}",
            "AIRFOIL_REGISTRY_URI": f"http://127.0.0.1:{ports.mlflow}",
            "AIRFOIL_AIRFLOW_UI_URL": airflow_url,
            "AIRFOIL_AIRFLOW_API_URL": airflow_url,
            "AIRFOIL_AIRFLOW_API_USER": USER,
            "AIRFOIL_AIRFLOW_API_PASSWORD": shared["admin_password"],
            "AIRFOIL_API_TOKEN": shared["api_token"],
            "PYTHONUNBUFFERED": "1",
        }
        if executor == "celery":
            assert s.broker_url
            env["AIRFLOW__CELERY__BROKER_URL"] = s.broker_url
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + s.airflow_db_url.replace("+psycopg2", "")
        if s.airflow_db_url.startswith("sqlite"):
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"] = sqlite.SETTING
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
                airflow, "celery", "worker", "--celery-hostname", f"worker{i}@%h", "--concurrency", "2",
                "--without-mingle", "--without-gossip",
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
        env = self.environment(executor, ports)
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
            self.state_file.write_text(state.dumps())
        return state

    def restart_dead(self) -> list[str]:
        """Start again the recorded components whose process died (a killed scheduler or worker),
        with the stack's own command and environment; the live ones are left alone."""
        state = self.state()
        if state is None:
            return []
        env = self.environment(state.executor, state.ports)
        restarted = []
        for i, p in enumerate(state.processes):
            if not alive(p):
                state.processes[i] = self._spawn(p.name, p.cmd, env)
                restarted.append(p.name)
        self.state_file.write_text(state.dumps())
        return restarted

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> Process:
        log = self.dir / "logs" / f"{name.replace(' ', '-')}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                cmd, env=env, cwd=self.settings.home, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        return Process(name, proc.pid, cmd, str(log))

    def stop(self, grace: float = 10.0) -> list[str]:
        """SIGTERM each recorded process group, SIGKILL what is left after `grace`; forget the stack."""
        state = self.state()
        if state is None:
            return []
        targets = [p for p in state.processes if alive(p)]
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


def ensure_database(url: str, key: str) -> None:
    """Connect to the PostgreSQL database of `url`, creating it if the server is up but it is missing."""
    import sqlalchemy as sa

    target = sa.engine.make_url(url)
    try:
        engine = sa.create_engine(target)
        with engine.connect():
            pass
        engine.dispose()
        return
    except sa.exc.OperationalError as exc:
        if f'database "{target.database}" does not exist' not in str(exc):
            raise AirfoilError(
                f"cannot reach the database of {key}={url}: {exc.orig}; fix {key} or start it"
            ) from None
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def _reachable(url: str, key: str) -> None:
    """A TCP connection to the broker's host and port, or a clear error naming the setting."""
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(url)
    host, port = (
        parsed.hostname or "127.0.0.1",
        parsed.port or {"redis": 6379, "amqp": 5672}.get(parsed.scheme, 0),
    )
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        raise AirfoilError(
            f"the broker at {key}={url} is not reachable ({exc}); start it or fix {key}"
        ) from None
