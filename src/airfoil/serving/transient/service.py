"""Intake and status of transient requests: what the routes call.

The prediction store and the runner are opened on first use, so an API without transient
pipelines never touches the store, and an unreachable store answers 503 instead of stopping the
server. A home with requests left pending by a restart starts its runner at once, to run them.
"""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path
from typing import Any

from airfoil.plan import DagKind, dag_id
from airfoil.serving.http import BadInput
from airfoil.serving.transient.airflow_api import AirflowRunner
from airfoil.serving.transient.embedded import EmbeddedRunner
from airfoil.serving.transient.request import parse_request
from airfoil.serving.transient.runner import Job, NotFound, Runner, TriggerError
from airfoil.settings import Settings
from airfoil.spec.catalog import SpecCache
from airfoil.spec.model import PipelineSpec
from airfoil.steps.predictions import decode
from airfoil.store import Batch, BatchKind, BatchStatus, PredictionStore, open_store

log = logging.getLogger("airfoil.serving")


class Transient:
    """Transient requests for the API; `start`ed and `stop`ped with the app."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.specs = SpecCache(settings)
        self._store: PredictionStore | None = None
        self._runner: Runner | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the runner now when the home already has transient requests (recovery); else on first use."""
        if (self.settings.home / "transient").is_dir() and not self.settings.airflow_api_url:
            try:
                self._started_runner()
            except Exception:  # the store is unreachable: requests will say so
                log.exception("airfoil: could not recover pending transient requests")

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()

    def submit(self, name: str, body: Any) -> tuple[int, dict[str, Any]]:
        """Accept one request: 202 and its id if new; the existing request's status if the id is known."""
        spec, spec_path = self._find(name)
        if spec.deploy.mode != "transient":
            raise NotFound(
                f"pipeline {name!r} is deployed with mode {spec.deploy.mode!r}: it serves its registered "
                f"champion at /v1/models/{name}/invocations; transient requests need deploy.mode: transient"
            )
        request_id, rows = parse_request(body, self.settings.max_rows)
        request_id = request_id or uuid.uuid4().hex
        store = self._opened_store()
        existing = store.request(request_id)
        if existing is not None:
            if existing.pipeline != name:
                raise BadInput(
                    f"request_id {request_id!r} is already used by pipeline {existing.pipeline!r}", 409
                )
            return 200, self.describe(existing, include_predictions=False)
        n = len(next(iter(rows.values())))
        batch, created = store.open_batch(
            name,
            BatchKind.request,
            request_id,
            source="api",
            rows_total=n,
            dag_id=dag_id(name, DagKind.transient),
        )
        if not created:
            return 200, self.describe(batch, include_predictions=False)
        try:
            self._started_runner().submit(
                Job(request_id, name, spec_path, batch.id), {"request_id": request_id, "rows": rows}
            )
        except TriggerError as exc:
            failed = store.finish(batch.id, BatchStatus.failed, error=str(exc))
            return 502, self.describe(failed, include_predictions=False)
        return 202, self.describe(store.batch_by_id(batch.id), include_predictions=False)

    def status(self, request_id: str) -> dict[str, Any]:
        """The request's status; with its predictions and lineage once it is done."""
        batch = self._opened_store().request(request_id)
        if batch is None:
            raise NotFound(f"no transient request with id {request_id!r}")
        return self.describe(self._started_runner().refresh(batch), include_predictions=True)

    def describe(self, batch: Batch, include_predictions: bool) -> dict[str, Any]:
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
        if batch.status == BatchStatus.failed:
            out["error"] = batch.error
        if batch.status == BatchStatus.done:
            out["rows"] = {
                "total": batch.rows_total,
                "scored": batch.rows_scored,
                "rejected": batch.rows_rejected,
            }
            out["lineage"] = batch.lineage
            if include_predictions:
                out["classes"] = batch.classes
                out["predictions"] = decode(self._opened_store().predictions(batch.id), batch.classes)
        return out

    def _find(self, name: str) -> tuple[PipelineSpec, Path]:
        found = self.specs.find(name)
        if found is None:
            raise NotFound(
                f"no pipeline named {name!r} is known to this server (AIRFOIL_PIPELINES and the specs "
                f"run under {self.settings.home}); run `airfoil run <spec> --only prepare` first"
            )
        return found

    def _opened_store(self) -> PredictionStore:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

    def _started_runner(self) -> Runner:
        """The runner for this server's configuration, created, started and recovered on first use."""
        with self._lock:
            if self._runner is None:
                store = self._opened_store()
                runner: Runner = (
                    AirflowRunner(self.settings, store)
                    if self.settings.airflow_api_url
                    else EmbeddedRunner(self.settings, store)
                )
                runner.start()
                runner.recover(lambda pipeline: self._find(pipeline)[1])
                self._runner = runner
            return self._runner
