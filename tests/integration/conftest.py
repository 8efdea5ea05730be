"""Integration fixtures: the real `airfoil` CLI in a subprocess, on a fresh AIRFOIL_HOME per test.

A subprocess per command keeps Airflow's configuration (read once per process) honest: each test
gets its own metadata DB, MLflow store and artifact root, exactly as a user's shell would.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, ROOT

BIN = Path(sys.executable).parent


@dataclass
class Airfoil:
    """Runs `airfoil ...` against one AIRFOIL_HOME."""

    home: Path
    workdir: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRFOIL_", "MLFLOW"))}
        env.update(AIRFOIL_HOME=str(self.home), PYTHONWARNINGS="ignore", COLUMNS="160")
        return env

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(  # noqa: PLW1510 - the exit code is checked below, with the output
            [str(BIN / "airfoil"), *args],
            cwd=self.workdir,
            env=self.env,
            text=True,
            capture_output=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"airfoil {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def versions(self, name: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = json.loads(self("models", "list", name, "--json").stdout)
        return out

    def champion(self, name: str) -> int | None:
        return next((v["version"] for v in self.versions(name) if "champion" in v["aliases"]), None)


def store_batches(store_url: str, pipeline: str) -> list[Any]:
    """The prediction store's batches of a pipeline (a fresh connection, closed after)."""
    from airfoil.store.db import PredictionStore

    store = PredictionStore(store_url)
    try:
        return store.batches(pipeline)
    finally:
        store.close()


def store_count(store_url: str, batch_id: int) -> dict[str, int]:
    """Rows stored for a batch: rows, scored, rejected."""
    from airfoil.store.db import PredictionStore

    store = PredictionStore(store_url)
    try:
        return store.count(batch_id)
    finally:
        store.close()


@pytest.fixture
def airfoil(tmp_path: Path) -> Airfoil:
    return Airfoil(home=tmp_path / "home", workdir=tmp_path)


@pytest.fixture
def example_copy(tmp_path: Path):
    """Copy an example folder so a test can edit its spec or data without touching the repo."""

    def copy(name: str, replace: dict[str, str] | None = None, dest_name: str | None = None) -> Path:
        dest = tmp_path / (dest_name or name)
        shutil.copytree(EXAMPLES / name, dest)
        spec = dest / "pipeline.yaml"
        text = spec.read_text()
        for old, new in (replace or {}).items():
            assert old in text, f"{old!r} not in {spec}"
            text = text.replace(old, new)
        spec.write_text(text)
        return spec

    return copy


# --- prediction API (`airfoil serve`) ------------------------------------------------------------
API_TOKEN = "test-token"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """A running `airfoil serve` subprocess and an authenticated client for it."""

    url: str
    token: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, **kwargs: Any) -> Any:
        import httpx

        kwargs.setdefault("timeout", 30)
        return httpx.Client(base_url=self.url, headers=self.auth, **kwargs)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def serving(airfoil: Airfoil, workers: int = 1, **env: str) -> Iterator[Server]:
    """`airfoil serve` on a free port with a short poll; waits for readiness, always terminates it."""
    import httpx

    port = free_port()
    log = airfoil.workdir / f"serve-{port}.log"
    environ = {
        **airfoil.env,
        "AIRFOIL_API_TOKEN": API_TOKEN,
        "AIRFOIL_POLL_SECONDS": "0.5",
        **env,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "airfoil"), "serve", "--port", str(port), "--workers", str(workers)],
            cwd=airfoil.workdir,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(url=f"http://127.0.0.1:{port}", token=API_TOKEN, proc=proc, log=log)
    try:
        wait = 90 * workers  # the workers load their champions side by side on the same cores
        deadline = time.monotonic() + wait
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"airfoil serve exited {proc.returncode}:\n{server.output()}")
            try:
                if httpx.get(f"{server.url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"airfoil serve was not ready within {wait} s:\n{server.output()}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# Pipelines made from an example by replacing text in its spec: (example, {old: new}).
VARIANTS = {
    # cars with a model no converter takes (kernel methods have none): served by scikit-learn, the
    # fallback path, with a text column
    "cars_sklearn": (
        "cars",
        {
            "name: cars": "name: cars_sklearn",
            "cv: 5": "cv: 2",
            "    - {estimator: sklearn.linear_model.Ridge, params: {alpha: [0.1, 1.0, 10.0]}}\n": "",
            "{estimator: sklearn.ensemble.HistGradientBoostingRegressor, params: {max_depth: [3, null], "
            "learning_rate: [0.1]}}": "{estimator: sklearn.kernel_ridge.KernelRidge, params: "
            "{kernel: [rbf], alpha: [0.1], gamma: [0.1]}}",
        },
    ),
}


def example_spec(name: str, folder: Path) -> Path:
    """The spec of an example, or of a variant (its example copied into `folder` and edited)."""
    if name not in VARIANTS:
        return EXAMPLES / name / "pipeline.yaml"
    example, replace = VARIANTS[name]
    dest = folder / name
    shutil.copytree(EXAMPLES / example, dest, dirs_exist_ok=True)
    text = (dest / "pipeline.yaml").read_text()
    for old, new in replace.items():
        assert old in text, f"{old!r} not in the {example} example's spec"
        text = text.replace(old, new)
    (dest / "pipeline.yaml").write_text(text)
    return dest / "pipeline.yaml"


def shared_registry(tmp_path_factory: pytest.TempPathFactory, key: str, *examples: str) -> Airfoil:
    """A registry with the champion of each example (or VARIANTS), built once per test session
    (xdist workers share it).

    Whoever comes first builds it under a lock; later callers reuse it. Callers must not change it
    (copy its home with `home_copy` to change it). What each `airfoil run` printed is kept:
    `run_output(registry, example)`.
    """
    import fcntl

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's directory, common to every worker
    base = root / f"registry-{key}"
    base.mkdir(exist_ok=True)
    done = base / "done"
    with (root / f"registry-{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            af = Airfoil(home=base / "home", workdir=base)
            if not done.exists():
                for name in examples:
                    proc = af("run", str(example_spec(name, base)))
                    (base / f"run-{name}.out").write_text(proc.stdout)
                done.write_text("ok")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return af


def run_output(registry: Airfoil, example: str) -> str:
    """What `airfoil run` of `example` printed when `shared_registry` built `registry`."""
    return (registry.workdir / f"run-{example}.out").read_text()


def home_copy(base: Airfoil, dest: Path, *, store: bool = False) -> Path:
    """A copy of a shared registry's home, minus its logs and (unless `store`) its prediction store,
    that a test may change.

    Its MLflow runs keep their artifacts where they are (read only); runs the copy logs add theirs
    beside them, under their own run ids. With `store`, the prediction store (what the runs that
    built the registry scored and monitored) is copied through SQLite's backup API: a consistent
    snapshot even while a test serving the shared registry writes to it."""
    shutil.copytree(base.home, dest, ignore=shutil.ignore_patterns("predictions.db*", "logs"))
    if store:
        import sqlite3

        source = sqlite3.connect(base.home / "predictions.db")
        target = sqlite3.connect(dest / "predictions.db")
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    return dest


@pytest.fixture(scope="module")
def champions_registry(tmp_path_factory: pytest.TempPathFactory) -> Airfoil:
    """breast_cancer and cars (a text column, HistGradientBoosting) served by ONNX, and cars_sklearn
    (the same data, a model with no ONNX converter) served by scikit-learn; each with a champion."""
    return shared_registry(tmp_path_factory, "champions", "breast_cancer", "cars", "cars_sklearn")


__all__ = ["ROOT", "Airfoil"]
