"""airfoil.airflow.stack without starting anything: secrets, the shared environment, the commands,
the recorded state, and the configuration errors `airfoil up` gives before it starts a process."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airfoil.airflow.processes import alive
from airfoil.airflow.stack import Ports, Process, Stack, StackState, shared_secrets
from airfoil.errors import AirfoilError
from airfoil.settings import load_settings


def test_secrets_are_generated_once_with_mode_600(settings) -> None:
    first = shared_secrets(settings)
    path = settings.home / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert shared_secrets(settings) == first  # every later process reads the same ones
    older = {k: v for k, v in first.items() if k != "api_token"}  # a file from before the token existed
    path.write_text(json.dumps(older))
    again = shared_secrets(settings)
    assert {k: again[k] for k in older} == older and again["api_token"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_every_process_shares_the_secrets_and_the_stacks_mlflow_server(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        {
            "AIRFOIL_HOME": str(tmp_path / "home"),
            "AIRFOIL_AIRFLOW_DB_URL": "postgresql+psycopg2://u@db:5432/airflow",
            "AIRFOIL_BROKER_URL": "redis://cache:6379/0",
        }
    )
    stack = Stack(settings)
    env = stack.environment("celery", 3, Ports(8080, 5000, 8000))
    secrets = shared_secrets(settings)
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == secrets["jwt_secret"]
    assert env["AIRFLOW__CORE__FERNET_KEY"] == secrets["fernet_key"]
    assert env["AIRFLOW__API__SECRET_KEY"] == secrets["api_secret_key"]
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "6"  # 3 workers x 2 slots
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://u@db:5432/airflow"
    assert env["AIRFOIL_TRACKING_URI"] == "http://127.0.0.1:5000"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8080/execution/"
    assert (settings.dags_folder / "airfoil_dags.py").exists()
    passwords = env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert json.loads(Path(passwords).read_text()) == {"admin": secrets["admin_password"]}
    assert stat.S_IMODE(Path(passwords).stat().st_mode) == 0o600
    cmds = stack.commands("celery", 3, Ports())
    assert [n for n in cmds if "worker" in n] == [f"airflow celery worker {i}" for i in (1, 2, 3)]
    assert not [n for n in stack.commands("local", 3, Ports()) if "worker" in n]


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({}, "AIRFOIL_AIRFLOW_DB_URL"),  # SQLite
        ({"AIRFOIL_AIRFLOW_DB_URL": "postgresql+psycopg2://u@db/airflow"}, "AIRFOIL_BROKER_URL"),
    ],
)
def test_celery_without_its_services_names_the_setting(tmp_path, env, setting) -> None:
    settings = load_settings({"AIRFOIL_HOME": str(tmp_path / "home"), **env})
    with pytest.raises(AirfoilError, match=setting):
        Stack(settings).check("celery")


def test_the_state_round_trips_and_only_the_started_process_counts_as_alive(tmp_path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    # Until the child has exec'ed, its command line is empty (or the parent's): wait to see its own.
    # (Python 3.13 starts children with vfork, so the test would otherwise look mid-exec.)
    deadline = time.monotonic() + 10
    while b"time.sleep" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        p = Process("sleeper", proc.pid, [sys.executable, "-c", "import time; time.sleep(30)"], "log")
        state = StackState("celery", 2, Ports(1, 2, 3), [p], 1.0)
        assert StackState.loads(state.dumps()) == state
        assert alive(p)
        other = Process("other", proc.pid, ["/usr/bin/definitely-not-this", "nothing-alike"], "log")
        assert not alive(other)  # a reused pid running something else is not ours
    finally:
        proc.kill()
        proc.wait()
    assert not alive(p)


def test_the_celery_worker_of_a_task_is_found_by_its_log(tmp_path) -> None:
    from airfoil.airflow.stack import celery_worker_of, log_file

    log_file(tmp_path, "x").parent.mkdir()
    log_file(tmp_path, "airflow celery worker 1").write_text("run_id='r1' task_id='tune'\n")
    log_file(tmp_path, "airflow celery worker 2").write_text("x\nrun_id='r2' task_id='tune' map_index=-1\n")
    assert celery_worker_of(tmp_path, "r2", "tune", 2) == 2
    assert celery_worker_of(tmp_path, "r1", "tune", 2) == 1
    with pytest.raises(LookupError, match="evaluate"):
        celery_worker_of(tmp_path, "r1", "evaluate", 2)
