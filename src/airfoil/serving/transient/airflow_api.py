"""The Airflow runner: transient DAG runs triggered on an Airflow 3 api-server through its REST API
(`AIRFOIL_AIRFLOW_API_URL`); Airflow's scheduler and executor run them."""

from __future__ import annotations

import threading
import time
from typing import Any

from airfoil.plan import DagKind, dag_id
from airfoil.serving.transient.runner import Job, Runner, TriggerError, dag_run_id
from airfoil.settings import Settings
from airfoil.store import Batch, BatchStatus, PredictionStore

REFRESH_SECONDS = 2.0  # how often a polled open request's Airflow DAG run state is checked


class AirflowAPI:
    """An Airflow 3 api-server's REST API, authenticated.

    Auth: a JWT from `POST {base}/auth/token` with the configured user and password (Airflow's
    SimpleAuthManager; also what other auth managers' token endpoints take), or, with no user set,
    `GET {base}/auth/token` (SimpleAuthManager with `simple_auth_manager_all_admins`).
    """

    def __init__(self, base: str, user: str | None, password: str | None):
        self.base = base.rstrip("/")
        self.user = user
        self.password = password
        self._token: str | None = None
        self._lock = threading.Lock()

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

    def unpause(self, dag: str, missing: str) -> None:
        """Unpause `dag`; `missing` says what to do when Airflow has no such DAG."""
        resp = self.call("PATCH", f"/api/v2/dags/{dag}", json={"is_paused": False})
        if resp.status_code == 404:
            raise TriggerError(f"Airflow at {self.base} has no DAG {dag}: {missing}")
        if resp.status_code != 200:
            raise TriggerError(f"Airflow refused to unpause {dag} ({resp.status_code}: {_detail(resp)})")


class AirflowRunner(Runner):
    """Triggers `<name>__transient` DAG runs on an Airflow 3 api-server through its REST API."""

    mode = "airflow"

    def __init__(self, settings: Settings, store: PredictionStore):
        super().__init__(store)
        assert settings.airflow_api_url
        self.api = AirflowAPI(
            settings.airflow_api_url, settings.airflow_api_user, settings.airflow_api_password
        )
        self.base = self.api.base
        self.call = self.api.call
        self._unpaused: set[str] = set()
        self._checked: dict[str, float] = {}  # request id -> when Airflow was last asked about its run

    def submit(self, job: Job, conf: dict[str, Any]) -> None:
        run_id = dag_run_id(job.request_id)
        self.store.update(job.batch_id, dag_run_id=run_id)
        dag = dag_id(job.pipeline, DagKind.transient)
        if dag not in self._unpaused:
            # A transient DAG has no schedule: unpausing it runs nothing by itself, and a paused
            # DAG's triggered runs would wait forever.
            self.api.unpause(
                dag,
                "put airfoil's DAG file in its DAG folder with this spec in AIRFOIL_PIPELINES "
                "(docs/transient.md)",
            )
            self._unpaused.add(dag)
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

    def refresh(self, batch: Batch) -> Batch:
        """A request still open whose DAG run failed before its task could say why: failed, with the state."""
        if batch.status.terminal or not batch.dag_run_id:
            self._checked.pop(batch.batch_key, None)
            return batch
        now = time.monotonic()
        if now - self._checked.get(batch.batch_key, 0.0) < REFRESH_SECONDS:  # clients poll often
            return batch
        self._checked[batch.batch_key] = now
        dag = dag_id(batch.pipeline, DagKind.transient)
        try:
            resp = self.call("GET", f"/api/v2/dags/{dag}/dagRuns/{batch.dag_run_id}")
        except TriggerError:
            return batch
        if resp.status_code == 200 and resp.json().get("state") == "failed":
            batch = self.store.batch_by_id(batch.id)  # the task may have written its reason meanwhile
            if not batch.status.terminal:
                return self.store.finish(
                    batch.id,
                    BatchStatus.failed,
                    error=f"Airflow DAG run {batch.dag_run_id} of {dag} failed "
                    "before storing predictions; see its task log in Airflow",
                )
        return batch


def _detail(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return str(resp.text)[:300]
    return str(body.get("detail", body) if isinstance(body, dict) else body)[:300]
