"""The embedded runner: transient DAG runs one at a time in an `airfoil transient worker` subprocess
(`DAG.test()` on airfoil's embedded metadata DB), for an `airfoil serve` with no Airflow api-server.

The worker keeps Airflow, scikit-learn and Airflow's in-process execution API loaded between
requests (each costs seconds to load); it is stopped after `WORKER_IDLE_SECONDS` without requests,
and started again, fresh, by the next one. A worker that dies or overruns `RUN_TIMEOUT_SECONDS` is
killed and its request marked failed. A request's rows wait in a file under AIRFOIL_HOME/transient
until it has run, so a restarted server runs what was still pending.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import select
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from airfoil.serving.transient import messages
from airfoil.serving.transient.runner import Job, NotFound, Runner
from airfoil.settings import Settings
from airfoil.store import BatchStatus, PredictionStore

log = logging.getLogger("airfoil.serving")

RUN_TIMEOUT_SECONDS = 3600  # an embedded transient run longer than this is stopped and marked failed
WORKER_IDLE_SECONDS = 300  # the worker process stops after this long without a request
START_TIMEOUT_SECONDS = 120


class EmbeddedRunner(Runner):
    """One background thread feeding one worker process."""

    mode = "embedded"

    def __init__(self, settings: Settings, store: PredictionStore):
        super().__init__(store)
        self.settings = settings
        self.folder = settings.home / "transient"
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self._stopping = False

    def conf_path(self, request_id: str) -> Path:
        return self.folder / f"{request_id}.json"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._work, name="airfoil-transient", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._queue.put(None)
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def recover(self, locate: Callable[[str], Path]) -> None:
        """Queue again the requests still `pending` whose rows were written before a restart."""
        for path in sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
            batch = self.store.request(path.stem)
            if batch is None or batch.status != BatchStatus.pending:
                continue
            try:
                spec_path = locate(batch.pipeline)
            except NotFound as exc:
                self.store.finish(batch.id, BatchStatus.failed, error=str(exc))
                continue
            self._queue.put(Job(batch.batch_key, batch.pipeline, spec_path, batch.id))

    def submit(self, job: Job, conf: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.conf_path(job.request_id)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(conf))
        tmp.replace(path)
        self._queue.put(job)

    def _work(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=WORKER_IDLE_SECONDS)
            except queue.Empty:
                self._stop_worker()
                continue
            if job is None:
                self._stop_worker()
                return
            try:
                self._run(job)
            except Exception:  # keep the thread alive for the next request
                log.exception("airfoil: transient request %s", job.request_id)
                self._kill_worker()
                with contextlib.suppress(Exception):
                    self._fail_if_open(job, "the server could not run the transient DAG; see its log")

    def _run(self, job: Job) -> None:
        conf = self.conf_path(job.request_id)
        # One transient run at a time per home, also across `airfoil serve --workers N` processes:
        # the embedded metadata DB is SQLite. Whether the request is still open is read under the lock.
        with open(self.folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if self.store.batch_by_id(job.batch_id).status.terminal:
                    conf.unlink(missing_ok=True)
                    return
                if not conf.exists():
                    self._fail_if_open(
                        job, f"the request's rows ({conf}) are gone; send it again with a new id"
                    )
                    return
                outcome = self._ask(messages.Run(spec=str(job.spec_path), conf_file=str(conf)))
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        conf.unlink(missing_ok=True)
        if outcome is None and self._stopping:
            self._fail_if_open(
                job, "airfoil serve stopped while this request ran; send it again with a new id"
            )
        elif outcome is None:
            self._fail_if_open(job, f"the transient worker died or timed out: {_tail(self._log)}")
        elif not outcome.ok:
            # The step stores its own reason; this covers failures before it ran (spec, DAG parse).
            self._fail_if_open(job, str(outcome.error or f"the DAG run ended {outcome.state}"))

    def _worker(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        logs = self.settings.logs_dir
        logs.mkdir(parents=True, exist_ok=True)
        self._log = logs / "transient-worker.stderr.log"
        with open(self._log, "ab") as err:
            self._proc = subprocess.Popen(
                [*_airfoil_command(), "transient", "worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=dict(os.environ),
            )
        ready = self._read(self._proc, messages.Ready, START_TIMEOUT_SECONDS)
        if ready is None:
            self._kill_worker()
            raise RuntimeError(f"the transient worker did not start: {_tail(self._log)}")
        self._log = Path(ready.log)
        return self._proc

    def _ask(self, run: messages.Run) -> messages.Outcome | None:
        """Send one run to the worker; its outcome, or None if it died or overran (then it is killed)."""
        proc = self._worker()
        assert proc.stdin is not None
        try:
            proc.stdin.write(messages.encode(run))
            proc.stdin.flush()
        except OSError:
            self._kill_worker()
            return None
        outcome = self._read(proc, messages.Outcome, RUN_TIMEOUT_SECONDS)
        if outcome is None:
            self._kill_worker()
        return outcome

    @staticmethod
    def _read(proc: subprocess.Popen[bytes], kind: type[messages.M], timeout: float) -> messages.M | None:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = proc.stdout.readline()
        return messages.decode(line, kind) if line else None

    def _stop_worker(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def _kill_worker(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    def _fail_if_open(self, job: Job, error: str) -> None:
        """A run that ended without storing an outcome (crash, kill) leaves the request failed."""
        if not self.store.batch_by_id(job.batch_id).status.terminal:
            self.store.finish(job.batch_id, BatchStatus.failed, error=error)


def _airfoil_command() -> list[str]:
    """The `airfoil` CLI of this interpreter's environment."""
    script = Path(sys.executable).parent / "airfoil"
    if script.exists():
        return [str(script)]
    found = shutil.which("airfoil")
    if found:
        return [found]
    return [sys.executable, "-c", "from airfoil.cli.main import main; main()"]


def _tail(path: Path | None, lines: int = 8) -> str:
    if path is None:
        return "no log"
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"see {path}"
    tail = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(tail)[-2000:] + f" (log: {path})"
