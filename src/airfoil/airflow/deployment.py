"""An Airflow deployment of airfoil's DAGs: api-server, scheduler and dag-processor (and, under
`airfoil up`, a triggerer and Celery workers) sharing one AIRFLOW_HOME, with airfoil's DAG file in
its DAG folder and the SimpleAuthManager with one admin user whose password is in a file (mode 600).

`environment()` is what every one of those processes must share: the metadata DB, the executor, the
JWT secret, the api-server's URL for the execution API. `airfoil up` (`stack.Stack.environment`), the
integration tests and `bench/transient.py` start Airflow with it. An SQLite metadata DB gets a 60 s
lock timeout (Airflow's default, 5 s, gives "database is locked" with four processes writing); use
`use_wal()` on it after `airflow db migrate`.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from airfoil.airflow import sqlite
from airfoil.airflow.dagfolder import install_dag_file

USER = "airfoil"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


@dataclass(frozen=True)
class Deployment:
    """The shared settings of one Airflow deployment on this machine."""

    home: Path  # AIRFLOW_HOME: DAG folder, logs, passwords file, SQLite metadata DB
    port: int  # the api-server's
    db_url: str = ""  # Airflow's metadata DB; default: SQLite under `home`
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user: str = USER  # the one admin of the SimpleAuthManager
    dags: Path | None = None  # the DAG folder; default: `home`/dags
    executor: str = "LocalExecutor"
    parallelism: int = 4  # task slots of the scheduler (Airflow's default is 32)
    quick: bool = True  # tests and benches: DAG folder listed every 5 s, scheduler idle sleep 0.2 s

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metadata_db(self) -> str:
        return self.db_url or f"sqlite:///{self.home / 'airflow.db'}"

    def environment(self, base: Mapping[str, str], **extra: str) -> dict[str, str]:
        """`base` plus the Airflow settings of this deployment and `extra` (e.g. AIRFOIL_HOME,
        AIRFOIL_PIPELINES for the DAG file's parse and the tasks); writes the files they point at."""
        dags = self.dags or self.home / "dags"
        install_dag_file(dags)
        passwords = self.home / "passwords.json"
        self.home.mkdir(parents=True, exist_ok=True)
        passwords.touch(mode=0o600)
        passwords.chmod(0o600)
        passwords.write_text(json.dumps({self.user: self.password}))
        env = {
            **base,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_db,
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.user}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
        }
        if self.quick:
            env["AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"] = "5"
            env["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"] = "0.2"
        if self.metadata_db.startswith("sqlite"):
            # SQLite serialises writers: give them 60 s instead of 5 s to wait for the lock.
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS"] = sqlite.SETTING
        return {**env, **extra}

    def use_wal(self) -> None:
        """After `airflow db migrate`: an SQLite metadata DB in WAL mode, so readers (the api-server's
        GETs) never block the writer; the mode stays with the file."""
        if self.metadata_db.startswith("sqlite"):
            with contextlib.closing(sqlite3.connect(self.metadata_db.removeprefix("sqlite:///"))) as db:
                db.execute("PRAGMA journal_mode = WAL")

    def commands(self) -> dict[str, list[str]]:
        """The Airflow processes of the deployment, by name, as argv."""
        airflow = str(Path(sys.executable).parent / "airflow")
        return {
            "airflow api-server": [
                airflow,
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            "airflow scheduler": [airflow, "scheduler"],
            "airflow dag-processor": [airflow, "dag-processor"],
        }
