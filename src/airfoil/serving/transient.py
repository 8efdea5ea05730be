"""Transient (train-per-request) predictions: request intake, the status route, and the runners.

`POST /v1/models/{name}/transient` accepts rows in an MLflow scoring format, records the request in
the prediction store (`pending`) and starts the pipeline's `<name>__transient` DAG with the rows in
its run conf. `GET /v1/predictions/{request_id}` reads the request back from the store: the DAG's
task writes the predictions and the `done` status in one transaction, or `failed` with the reason.

Two ways to start the DAG:

- an Airflow api-server (`AIRFOIL_AIRFLOW_API_URL`): a DAG run is triggered through Airflow's REST
  API with a `dag_run_id` derived from the request id, so Airflow itself refuses a duplicate;
- embedded (no api-server configured): one background thread runs the requests one at a time, each
  in an `airfoil transient run` subprocess (`DAG.test()` on airfoil's embedded SQLite metadata DB).
  A file lock under AIRFOIL_HOME keeps it one at a time across server worker processes too.

This module never imports Airflow (import-linter contract): it talks to Airflow over HTTP or
through the `airfoil` CLI.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import os
import queue
import re
import select
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request

from airfoil.errors import SpecError
from airfoil.serving.inputs import BadInput
from airfoil.settings import Settings
from airfoil.spec.catalog import find_specs, spec_roots
from airfoil.spec.loader import load_spec
from airfoil.spec.model import PipelineSpec
from airfoil.steps.scoring import decode

log = logging.getLogger("airfoil.serving")

# A request id becomes part of a DAG run id and of a file name: keep it to safe characters.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")
RUN_TIMEOUT_SECONDS = 3600  # an embedded transient run longer than this is stopped and marked failed
REFRESH_SECONDS = 2.0  # how often a polled open request's Airflow DAG run state is checked
WORKER_IDLE_SECONDS = 300  # the embedded worker process stops after this long without a request
TERMINAL = ("done", "failed")


def dag_id(pipeline: str) -> str:
    return f"{pipeline}__transient"


def dag_run_id(request_id: str) -> str:
    """The Airflow DAG run id of a request: Airflow refuses a second run with the same id."""
    return f"transient__{request_id}"


class NotFound(Exception):
    """404 with a message saying why."""


class TriggerError(Exception):
    """The DAG run could not be started (Airflow unreachable, DAG unknown, ...)."""


# --- request bodies ------------------------------------------------------------------------------
def parse_request(body: Any, max_rows: int) -> tuple[str | None, dict[str, list[Any]]]:
    """(client request id or None, {column: [values]}) from an MLflow scoring body.

    Formats: {"dataframe_split": {"columns": [...], "data": [[...], ...]}},
    {"dataframe_records": [{col: value}, ...]}, {"inputs": {col: [values]}} (or "instances").
    Values must be JSON scalars; whether they fit the model is checked per row by the DAG, which
    stores a row that does not fit as rejected with the reason.
    """
    if not isinstance(body, dict):
        raise BadInput(f"the body must be a JSON object with one of {', '.join(FORMATS)}")
    request_id = body.get("request_id")
    if request_id is not None and (not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id)):
        raise BadInput(
            "request_id must be a string of 1-128 letters, digits, '_', '.', ':' or '-' "
            "starting with a letter or digit"
        )
    unknown = sorted(set(body) - {*FORMATS, "request_id"})
    if unknown:
        raise BadInput(
            f"unknown field(s) {unknown}; give one of {', '.join(FORMATS)} and optionally request_id"
        )
    keys = [k for k in FORMATS if k in body]
    if len(keys) != 1:
        raise BadInput(f"give exactly one of {', '.join(FORMATS)}")
    key, payload = keys[0], body[keys[0]]
    if key == "dataframe_split":
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise BadInput("dataframe_split needs 'columns' (the column names) and 'data' (a list of rows)")
        columns = payload.get("columns")
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
            raise BadInput("dataframe_split.columns must be a non-empty list of column names")
        if len(set(columns)) != len(columns):
            raise BadInput("dataframe_split.columns names a column twice")
        for i, row in enumerate(payload["data"]):
            if not isinstance(row, list) or len(row) != len(columns):
                raise BadInput(
                    f"dataframe_split: row {i} must be a list of {len(columns)} values ({columns})"
                )
        values = {c: [row[j] for row in payload["data"]] for j, c in enumerate(columns)}
    elif key == "dataframe_records" or isinstance(payload, list):
        if not isinstance(payload, list) or not all(isinstance(r, dict) for r in payload):
            raise BadInput(f"{key} must be a list of records ({{column: value}} objects)")
        names = list(dict.fromkeys(k for r in payload for k in r))
        values = {c: [r.get(c) for r in payload] for c in names}  # a key left out of a record: null
    elif isinstance(payload, dict):
        if not payload:
            raise BadInput(f"{key} must name at least one column")
        if not all(isinstance(v, list) for v in payload.values()):
            raise BadInput(f"{key}: every column must be a list of values ({{column: [values]}})")
        values = {str(k): v for k, v in payload.items()}
    else:
        raise BadInput(f"{key} must be an object {{column: [values]}} or a list of records")
    lengths = sorted({len(v) for v in values.values()})
    if len(lengths) > 1:
        raise BadInput(f"columns have different lengths {lengths}; every column needs one value per row")
    n = lengths[0] if lengths else 0
    if n == 0:
        raise BadInput("the request has no rows: send at least one")
    if n > max_rows:
        raise BadInput(f"{n} rows is more than the limit of {max_rows} per request; split it", 413)
    for name, column in values.items():
        for i, v in enumerate(column):
            if isinstance(v, dict | list):
                raise BadInput(f"column {name!r}: row {i} holds a {type(v).__name__}, not a single value")
            if isinstance(v, float) and not math.isfinite(v):
                raise BadInput(f"column {name!r}: row {i} is not a finite number")
    return request_id, values


# --- finding the pipeline ------------------------------------------------------------------------
def _spec_files(settings: Settings) -> list[Path]:
    """The specs this home knows: AIRFOIL_PIPELINES (files or folders) and `<home>/pipelines.txt`."""
    return list(dict.fromkeys(p.resolve() for p in find_specs(spec_roots(settings))))


class Specs:
    """Pipeline specs by name, re-read when a file changes."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._cache: dict[Path, tuple[float, PipelineSpec | None]] = {}
        self._lock = threading.Lock()

    def find(self, name: str) -> tuple[PipelineSpec, Path]:
        with self._lock:
            for path in _spec_files(self.settings):
                try:
                    mtime = path.stat().st_mtime
                except OSError:
                    continue
                cached = self._cache.get(path)
                if cached is None or cached[0] != mtime:
                    try:
                        spec: PipelineSpec | None = load_spec(path)
                    except SpecError as exc:
                        log.warning("airfoil: skipping invalid spec %s: %s", path, exc)
                        spec = None
                    self._cache[path] = (mtime, spec)
                spec = self._cache[path][1]
                if spec is not None and spec.name == name:
                    return spec, path
        raise NotFound(
            f"no pipeline named {name!r} is known to this server (AIRFOIL_PIPELINES and the specs "
            f"run under {self.settings.home}); run `airfoil run <spec> --only prepare` first"
        )


# --- runners -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    request_id: str
    pipeline: str
    spec_path: Path
    batch_id: int


def _airfoil_command() -> list[str]:
    """The `airfoil` CLI of this interpreter's environment."""
    script = Path(sys.executable).parent / "airfoil"
    if script.exists():
        return [str(script)]
    found = shutil.which("airfoil")
    if found:
        return [found]
    return [sys.executable, "-c", "from airfoil.cli.main import main; main()"]


class EmbeddedRunner:
    """Runs transient DAGs one at a time in an `airfoil transient worker` subprocess.

    The worker keeps Airflow, scikit-learn and Airflow's in-process execution API loaded between
    requests (each costs seconds to load); it is stopped after `WORKER_IDLE_SECONDS` without
    requests, and started again, fresh, by the next one. A worker that dies or overruns
    `RUN_TIMEOUT_SECONDS` is killed and its request marked failed.
    """

    mode = "embedded"

    def __init__(self, settings: Settings, store: Any):
        self.settings = settings
        self.store = store
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

    def recover(self, specs: Specs) -> None:
        """Queue again the requests still `pending` whose rows were written before a restart."""
        for path in sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
            batch = self.store.request(path.stem)
            if batch is None or batch.status != "pending":
                continue
            try:
                _, spec_path = specs.find(batch.pipeline)
            except NotFound as exc:
                self.store.finish(batch.id, "failed", error=str(exc))
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

    def refresh(self, batch: Any) -> Any:
        return batch

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
                batch = self.store.batch_by_id(job.batch_id)
                if batch.status in TERMINAL:
                    conf.unlink(missing_ok=True)
                    return
                if not conf.exists():
                    self._fail_if_open(
                        job, f"the request's rows ({conf}) are gone; send it again with a new id"
                    )
                    return
                answer = self._ask(job, conf)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        conf.unlink(missing_ok=True)
        if answer is None and self._stopping:
            self._fail_if_open(
                job, "airfoil serve stopped while this request ran; send it again with a new id"
            )
        elif answer is None:
            self._fail_if_open(job, f"the transient worker died or timed out: {_tail(self._log)}")
        elif answer.get("state") != "success":
            # The step stores its own reason; this covers failures before it ran (spec, DAG parse).
            self._fail_if_open(job, str(answer.get("error") or f"the DAG run ended {answer.get('state')}"))

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
        ready = self._readline(self._proc, 120)
        if ready is None or not ready.get("ready"):
            self._kill_worker()
            raise RuntimeError(f"the transient worker did not start: {_tail(self._log)}")
        self._log = Path(ready.get("log") or self._log)
        return self._proc

    def _ask(self, job: Job, conf: Path) -> dict[str, Any] | None:
        """Send one job to the worker; its answer, or None if it died or overran (then it is killed)."""
        proc = self._worker()
        assert proc.stdin is not None
        try:
            proc.stdin.write(orjson.dumps({"spec": str(job.spec_path), "conf_file": str(conf)}) + b"\n")
            proc.stdin.flush()
        except OSError:
            self._kill_worker()
            return None
        answer = self._readline(proc, RUN_TIMEOUT_SECONDS)
        if answer is None:
            self._kill_worker()
        return answer

    @staticmethod
    def _readline(proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any] | None:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = proc.stdout.readline()
        if not line:
            return None
        try:
            answer: dict[str, Any] = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        return answer

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
        batch = self.store.batch_by_id(job.batch_id)
        if batch.status not in TERMINAL:
            self.store.finish(job.batch_id, "failed", error=error)


def _tail(path: Path | None, lines: int = 8) -> str:
    if path is None:
        return "no log"
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"see {path}"
    tail = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(tail)[-2000:] + f" (log: {path})"


class AirflowRunner:
    """Triggers `<name>__transient` DAG runs on an Airflow 3 api-server through its REST API.

    Auth: a JWT from `POST {base}/auth/token` with the configured user and password (Airflow's
    SimpleAuthManager; also what other auth managers' token endpoints take), or, with no user set,
    `GET {base}/auth/token` (SimpleAuthManager with `simple_auth_manager_all_admins`).
    """

    mode = "airflow"

    def __init__(self, settings: Settings, store: Any):
        assert settings.airflow_api_url
        self.base = settings.airflow_api_url.rstrip("/")
        self.user = settings.airflow_api_user
        self.password = settings.airflow_api_password
        self.store = store
        self._token: str | None = None
        self._unpaused: set[str] = set()
        self._checked: dict[str, float] = {}  # request id -> when Airflow was last asked about its run
        self._lock = threading.Lock()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def recover(self, specs: Specs) -> None:
        pass  # Airflow keeps the DAG runs itself

    def _new_token(self, client: Any) -> str:
        if self.user:
            resp = client.post(
                f"{self.base}/auth/token", json={"username": self.user, "password": self.password or ""}
            )
        else:
            resp = client.get(f"{self.base}/auth/token")
        if resp.status_code not in (200, 201):
            raise TriggerError(
                f"Airflow at {self.base} refused a token ({resp.status_code}: {_detail(resp)}); "
                "check AIRFOIL_AIRFLOW_API_USER / AIRFOIL_AIRFLOW_API_PASSWORD"
            )
        token: str = resp.json()["access_token"]
        return token

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One authenticated request; a 401 (expired token) gets one new token and one retry."""
        import httpx

        try:
            with httpx.Client(timeout=30) as client:
                for attempt in (0, 1):
                    with self._lock:
                        if self._token is None or attempt:
                            self._token = self._new_token(client)
                        token = self._token
                    resp = client.request(
                        method, f"{self.base}{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs
                    )
                    if resp.status_code != 401:
                        return resp
                return resp
        except httpx.HTTPError as exc:
            raise TriggerError(f"cannot reach the Airflow api-server at {self.base}: {exc}") from exc

    def submit(self, job: Job, conf: dict[str, Any]) -> None:
        dag = dag_id(job.pipeline)
        if dag not in self._unpaused:
            # A transient DAG has no schedule: unpausing it runs nothing by itself, and a paused
            # DAG's triggered runs would wait forever.
            resp = self.call("PATCH", f"/api/v2/dags/{dag}", json={"is_paused": False})
            if resp.status_code == 404:
                raise TriggerError(
                    f"Airflow at {self.base} has no DAG {dag}: put airfoil's DAG file in its DAG folder "
                    "with this spec in AIRFOIL_PIPELINES (docs/transient.md)"
                )
            if resp.status_code != 200:
                raise TriggerError(f"Airflow refused to unpause {dag} ({resp.status_code}: {_detail(resp)})")
            self._unpaused.add(dag)
        run_id = dag_run_id(job.request_id)
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf, "note": "airfoil transient request"}
        # The run id is the request's, so trying again is safe: a run that was created answers 409.
        for pause in (0.5, 1.0, 2.0, None):
            try:
                resp = self.call("POST", f"/api/v2/dags/{dag}/dagRuns", json=body)
            except TriggerError:
                if pause is None:
                    raise
            else:
                if resp.status_code < 500 or pause is None:
                    break
            time.sleep(pause)
        if resp.status_code == 409:  # this request's run exists already: it is not trained twice
            return
        if resp.status_code not in (200, 201):
            raise TriggerError(f"Airflow refused the DAG run of {dag} ({resp.status_code}: {_detail(resp)})")

    def refresh(self, batch: Any) -> Any:
        """A request still open whose DAG run failed before its task could say why: failed, with the state."""
        if batch.status in TERMINAL or not batch.dag_run_id:
            self._checked.pop(batch.batch_key, None)
            return batch
        now = time.monotonic()
        if now - self._checked.get(batch.batch_key, 0.0) < REFRESH_SECONDS:  # clients poll often
            return batch
        self._checked[batch.batch_key] = now
        try:
            resp = self.call("GET", f"/api/v2/dags/{dag_id(batch.pipeline)}/dagRuns/{batch.dag_run_id}")
        except TriggerError:
            return batch
        if resp.status_code == 200 and resp.json().get("state") == "failed":
            batch = self.store.batch_by_id(batch.id)  # the task may have written its reason meanwhile
            if batch.status not in TERMINAL:
                return self.store.finish(
                    batch.id,
                    "failed",
                    error=f"Airflow DAG run {batch.dag_run_id} of {dag_id(batch.pipeline)} failed "
                    "before storing predictions; see its task log in Airflow",
                )
        return batch


def _detail(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return str(resp.text)[:300]
    return str(body.get("detail", body) if isinstance(body, dict) else body)[:300]


# --- the service the routes call -----------------------------------------------------------------
class Transient:
    """Intake and status of transient requests for the API; started with the app."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.specs = Specs(settings)
        self._store: Any = None
        self._runner: EmbeddedRunner | AirflowRunner | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> Any:
        if self._store is None:
            from airfoil.store import open_store

            self._store = open_store(self.settings)
        return self._store

    @property
    def runner(self) -> EmbeddedRunner | AirflowRunner:
        with self._lock:
            if self._runner is None:
                runner: EmbeddedRunner | AirflowRunner = (
                    AirflowRunner(self.settings, self.store)
                    if self.settings.airflow_api_url
                    else EmbeddedRunner(self.settings, self.store)
                )
                runner.start()
                runner.recover(self.specs)
                self._runner = runner
            return self._runner

    def start(self) -> None:
        """Start the runner now when the home already has transient requests (recovery); else on first use."""
        if (self.settings.home / "transient").is_dir() and not self.settings.airflow_api_url:
            try:
                _ = self.runner
            except Exception:  # the store is unreachable: requests will say so
                log.exception("airfoil: could not recover pending transient requests")

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()

    def submit(self, name: str, body: Any) -> tuple[int, dict[str, Any]]:
        """Accept one request: 202 and its id if new; the existing request's status if the id is known."""
        spec, spec_path = self.specs.find(name)
        if spec.deploy.mode != "transient":
            raise NotFound(
                f"pipeline {name!r} is deployed with mode {spec.deploy.mode!r}: it serves its registered "
                f"champion at /v1/models/{name}/invocations; transient requests need deploy.mode: transient"
            )
        request_id, rows = parse_request(body, self.settings.max_rows)
        request_id = request_id or uuid.uuid4().hex
        store = self.store
        existing = store.request(request_id)
        if existing is not None:
            if existing.pipeline != name:
                raise BadInput(
                    f"request_id {request_id!r} is already used by pipeline {existing.pipeline!r}", 409
                )
            return 200, self.describe(existing, include_predictions=False)
        n = len(next(iter(rows.values())))
        batch, created = store.open_batch(
            name, "request", request_id, source="api", rows_total=n, dag_id=dag_id(name)
        )
        if not created:
            return 200, self.describe(batch, include_predictions=False)
        conf = {"request_id": request_id, "rows": rows}
        job = Job(request_id, name, spec_path, batch.id)
        try:
            runner = self.runner
            if isinstance(runner, AirflowRunner):
                store.update(batch.id, dag_run_id=dag_run_id(request_id))
            runner.submit(job, conf)
        except TriggerError as exc:
            failed = store.finish(batch.id, "failed", error=str(exc))
            return 502, self.describe(failed, include_predictions=False)
        return 202, self.describe(store.batch_by_id(batch.id), include_predictions=False)

    def status(self, request_id: str) -> dict[str, Any]:
        batch = self.store.request(request_id)
        if batch is None:
            raise NotFound(f"no transient request with id {request_id!r}")
        return self.describe(self.runner.refresh(batch), include_predictions=True)

    def describe(self, batch: Any, include_predictions: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "request_id": batch.batch_key,
            "pipeline": batch.pipeline,
            "status": batch.status,
            "created_at": batch.created_at.isoformat(),
            "updated_at": batch.updated_at.isoformat(),
            "dag_id": batch.dag_id,
            "dag_run_id": batch.dag_run_id,
            "links": {"status": f"/v1/predictions/{batch.batch_key}"},
        }
        if batch.status == "failed":
            out["error"] = batch.error
        if batch.status == "done":
            out["rows"] = {
                "total": batch.rows_total,
                "scored": batch.rows_scored,
                "rejected": batch.rows_rejected,
            }
            out["lineage"] = batch.lineage
            if include_predictions:
                out["classes"] = batch.classes
                out["predictions"] = decode(self.store.predictions(batch.id), batch.classes)
        return out


# --- routes --------------------------------------------------------------------------------------
def add_routes(
    api: Any,
    service: Transient,
    read_body: Callable[[Any], Awaitable[Any]],
    json_response: Callable[..., Any],
    error_response: Callable[[int, str], Any],
) -> None:
    """`POST /v1/models/{name}/transient` and `GET /v1/predictions/{request_id}` on the FastAPI app."""
    from starlette.concurrency import run_in_threadpool

    from airfoil.store import StoreError

    @api.post(
        "/v1/models/{name}/transient",
        tags=["transient"],
        status_code=202,
        openapi_extra=TRANSIENT_REQUEST,
    )
    async def transient_request(request: Request, name: str) -> Any:
        """Train a fresh model for these rows (deploy.mode transient); 202 with the request id."""
        try:
            body = await read_body(request)
            status, out = await run_in_threadpool(service.submit, name, body)
        except BadInput as exc:
            return error_response(exc.status, str(exc))
        except NotFound as exc:
            return error_response(404, str(exc))
        except StoreError as exc:
            return error_response(503, str(exc))
        return json_response(out, status)

    @api.get("/v1/predictions/{request_id}", tags=["transient"])
    async def transient_status(request_id: str) -> Any:
        """A transient request: pending, running, done (predictions, lineage) or failed (the reason)."""
        try:
            out = await run_in_threadpool(service.status, request_id)
        except NotFound as exc:
            return error_response(404, str(exc))
        except StoreError as exc:
            return error_response(503, str(exc))
        return json_response(out)


TRANSIENT_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "request_id": {"type": "string", "pattern": REQUEST_ID.pattern, "maxLength": 128},
                        "dataframe_split": {
                            "type": "object",
                            "properties": {
                                "columns": {"type": "array", "items": {"type": "string"}},
                                "data": {"type": "array", "items": {"type": "array"}},
                            },
                            "required": ["columns", "data"],
                        },
                        "dataframe_records": {"type": "array", "items": {"type": "object"}},
                        "inputs": {"type": "object", "additionalProperties": {"type": "array"}},
                    },
                },
                "example": {
                    "request_id": "order-1234",
                    "dataframe_split": {
                        "columns": ["precipitation", "temp_max", "temp_min", "wind", "month"],
                        "data": [[0.0, 21.1, 11.7, 3.2, 7]],
                    },
                },
            }
        },
    }
}
