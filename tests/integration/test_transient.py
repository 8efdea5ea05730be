"""Transient (train-per-request) pipelines through the real API, real Airflow and a real prediction store.

Per store backend (SQLite file, the machine's PostgreSQL) one `airfoil serve` runs for the module:
three pipelines are known to it, `ok` (prepared), `boom` (its estimator raises in `fit`; it shares
`ok`'s prepared dataset) and `bare` (never prepared). Requests go over HTTP; the embedded runner
runs each in an `airfoil transient run` subprocess (DAG.test on the SQLite metadata DB).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, require_postgres
from tests.integration.conftest import Airfoil, Server, serving, store_batches, store_count

pytestmark = pytest.mark.integration

COLUMNS = ["precipitation", "temp_max", "temp_min", "wind", "month"]
ROWS = [
    [0.0, 21.1, 11.7, 3.2, 7],
    [12.5, 8.3, 2.2, 5.0, 12],
    ["lots", 10.0, 3.0, 1.0, 1],  # not a number: rejected
    [0.0, 99.0, 3.0, 1.0, 1],  # above validate's max 50: rejected
    [1.0, 15.0, None, 2.5, 4],  # a null in a nullable column: imputed, scored
]
EXPLODING = """
from sklearn.base import BaseEstimator, ClassifierMixin


class Exploding(ClassifierMixin, BaseEstimator):
    def __init__(self, fuse=1):
        self.fuse = fuse

    def fit(self, X, y):
        raise RuntimeError("the estimator exploded on purpose")
"""


@dataclass
class Env:
    airfoil: Airfoil
    server: Server
    store_url: str
    ok: str  # pipeline names, unique per module run (PostgreSQL rows outlive the test)
    boom: str
    bare: str

    def batches(self, pipeline: str) -> list[Any]:
        return store_batches(self.store_url, pipeline)

    def stored_rows(self, batch_id: int) -> dict[str, int]:
        return store_count(self.store_url, batch_id)


def _store_url(backend: str, home: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{home / 'predictions.db'}"
    return require_postgres()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp(f"transient-{request.param}")
    af = Airfoil(home=root / "home", workdir=root)
    store_url = _store_url(request.param, af.home)
    tag = uuid.uuid4().hex[:8]
    names = {"ok": f"tw_ok_{tag}", "boom": f"tw_boom_{tag}", "bare": f"tw_bare_{tag}"}
    specs = []
    for key, name in names.items():
        dest = root / key
        shutil.copytree(EXAMPLES / "transient_weather", dest)
        text = (dest / "pipeline.yaml").read_text().replace("name: transient_weather", f"name: {name}")
        if key == "boom":
            (dest / "exploding.py").write_text(EXPLODING)
            start = text.index("  candidates:")
            end = text.index("deploy:")
            # n_jobs 1: the estimator's module sits next to the spec; loky workers could not import it
            text = (
                text[:start]
                + "  n_jobs: 1\n  candidates:\n    - {estimator: exploding.Exploding, params: {fuse: [1]}}\n"
                + text[end:]
            )
        (dest / "pipeline.yaml").write_text(text)
        specs.append(dest / "pipeline.yaml")
    af("run", str(specs[0]), "--only", "prepare")
    # `boom` trains on `ok`'s prepared dataset (saves a prepare run): the same latest-dataset pointer.
    pointer = af.home / "artifacts" / names["ok"] / "dataset" / "latest.json"
    (af.home / "artifacts" / names["boom"] / "dataset").mkdir(parents=True)
    shutil.copy(pointer, af.home / "artifacts" / names["boom"] / "dataset" / "latest.json")
    pipelines = ":".join(str(p) for p in [*specs, EXAMPLES / "seattle_weather" / "pipeline.yaml"])
    with serving(
        af, AIRFOIL_STORE_URL=store_url, AIRFOIL_PIPELINES=pipelines, AIRFOIL_MAX_ROWS="50"
    ) as server:
        yield Env(af, server, store_url, **names)


def _post(env: Env, pipeline: str, body: Any) -> Any:
    with env.server.client() as client:
        return client.post(f"/v1/models/{pipeline}/transient", json=body)


def _wait(env: Env, request_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = []
    with env.server.client() as client:
        while True:
            resp = client.get(f"/v1/predictions/{request_id}")
            assert resp.status_code == 200, resp.text
            out: dict[str, Any] = resp.json()
            if not seen or seen[-1] != out["status"]:
                seen.append(out["status"])
            if out["status"] in ("done", "failed"):
                assert set(seen) <= {"pending", "running", out["status"]}, seen
                return out
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"request {request_id} still {out['status']} after {timeout} s\n{env.server.output()}"
                )
            time.sleep(0.25)


def test_transient_request_trains_predicts_and_keeps_no_model(env: Env) -> None:
    request_id = f"req-{uuid.uuid4().hex}"
    body = {"request_id": request_id, "dataframe_split": {"columns": COLUMNS, "data": ROWS}}
    resp = _post(env, env.ok, body)
    assert resp.status_code == 202, resp.text
    assert resp.json()["request_id"] == request_id
    assert resp.json()["status"] in ("pending", "running")

    # The same id while it runs: the existing request, not a second training.
    again = _post(env, env.ok, body)
    assert again.status_code == 200, again.text
    assert again.json()["request_id"] == request_id

    out = _wait(env, request_id)
    assert out["status"] == "done", out
    predictions = out["predictions"]
    assert len(predictions) == len(ROWS)
    assert [p["row"] for p in predictions] == list(range(len(ROWS)))
    assert out["rows"] == {"total": 5, "scored": 3, "rejected": 2}
    labels = {"sun", "rain", "drizzle", "snow", "fog"}
    for i in (0, 1, 4):
        assert predictions[i]["prediction"] in labels
        assert set(predictions[i]["probabilities"]) == labels
        assert abs(sum(predictions[i]["probabilities"].values()) - 1) < 1e-6
        assert "rejected" not in predictions[i]
    assert predictions[2]["prediction"] is None
    assert (
        "precipitation" in predictions[2]["rejected"]
        and "'lots' is not a number" in predictions[2]["rejected"]
    )
    assert predictions[3]["prediction"] is None
    assert "temp_max" in predictions[3]["rejected"] and "maximum" in predictions[3]["rejected"]

    lineage = out["lineage"]
    dataset = json.loads((env.airfoil.home / "artifacts" / env.ok / "dataset" / "latest.json").read_text())
    assert lineage["dataset_fingerprint"] == dataset["fingerprint"]
    assert lineage["params"] and isinstance(lineage["params"], dict)
    assert lineage["estimator"].startswith("sklearn.")
    assert {"accuracy", "f1"} <= set(lineage["holdout_metrics"])
    assert lineage["holdout_rows"] > 0 and lineage["train_rows"] > 0
    assert lineage["dag_id"] == f"{env.ok}__transient"
    assert lineage["dag_run_id"] and lineage["dag_run_id"] == out["dag_run_id"]
    assert len(lineage["candidates"]) == 2

    # Repeated after it is done: the stored outcome; still one request row and one DAG run.
    third = _post(env, env.ok, {**body, "dataframe_split": {"columns": COLUMNS, "data": ROWS[:1]}})
    assert third.status_code == 200 and third.json()["status"] == "done"
    batches = env.batches(env.ok)
    assert [b.batch_key for b in batches] == [request_id]
    assert env.stored_rows(batches[0].id) == {"rows": 5, "scored": 3, "rejected": 2}
    with sqlite3.connect(env.airfoil.home / "airflow" / "airflow.db") as db:
        runs = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ?", (f"{env.ok}__transient",)).fetchall()
    assert [r[0] for r in runs] == [out["dag_run_id"]]

    # No registered model or version, no model artifact: only the prepared dataset is on disk.
    mlflow_db = env.airfoil.home / "mlflow.db"
    if mlflow_db.exists():
        with sqlite3.connect(mlflow_db) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "registered_models" in tables:
                assert not db.execute("SELECT 1 FROM registered_models WHERE name = ?", (env.ok,)).fetchall()
                assert not db.execute("SELECT 1 FROM model_versions WHERE name = ?", (env.ok,)).fetchall()
    artifacts = env.airfoil.home / "artifacts"
    files = [p.relative_to(artifacts).as_posix() for p in artifacts.rglob("*") if p.is_file()]
    assert not [f for f in files if f.endswith((".skops", ".onnx", ".pkl", ".joblib"))], files
    assert not [f for f in files if "__transient" in f], files
    # The request's rows are removed once the run's subprocess has exited (just after `done`).
    deadline = time.monotonic() + 30
    while list((env.airfoil.home / "transient").glob("req-*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not list((env.airfoil.home / "transient").glob(f"{request_id}.json"))


def test_records_format_generated_id_and_extra_columns(env: Env) -> None:
    records = [{**dict(zip(COLUMNS, row, strict=True)), "extra": 1} for row in ROWS[:2]]
    resp = _post(env, env.ok, {"dataframe_records": records})
    assert resp.status_code == 202, resp.text
    generated = resp.json()["request_id"]
    assert len(generated) == 32  # uuid4 hex
    out = _wait(env, generated)
    assert out["status"] == "done", out
    assert [p["row"] for p in out["predictions"]] == [0, 1]
    assert out["lineage"]["ignored_columns"] == ["extra"]


def test_failed_training_is_failed_with_the_reason_and_nothing_stored(env: Env) -> None:
    body = {"dataframe_split": {"columns": COLUMNS, "data": ROWS[:2]}}
    boom = _post(env, env.boom, {**body, "request_id": f"boom-{uuid.uuid4().hex}"})
    bare = _post(env, env.bare, {**body, "request_id": f"bare-{uuid.uuid4().hex}"})
    assert boom.status_code == 202 and bare.status_code == 202, (boom.text, bare.text)
    out = _wait(env, boom.json()["request_id"])
    assert out["status"] == "failed"
    assert "RuntimeError: the estimator exploded on purpose" in out["error"]
    assert "predictions" not in out
    out = _wait(env, bare.json()["request_id"])
    assert out["status"] == "failed"
    assert "has no prepared dataset yet" in out["error"]
    for name in (env.boom, env.bare):
        (batch,) = env.batches(name)
        assert batch.status == "failed"
        assert env.stored_rows(batch.id)["rows"] == 0
    # A failed request stays failed: the same id is not trained again.
    again = _post(env, env.bare, {**body, "request_id": bare.json()["request_id"]})
    assert again.status_code == 200 and again.json()["status"] == "failed"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ([1, 2], 400, "JSON object"),
        ({}, 400, "exactly one of"),
        ({"dataframe_split": {"columns": COLUMNS}}, 400, "dataframe_split needs"),
        (
            {"dataframe_split": {"columns": COLUMNS, "data": [[1, 2]]}},
            400,
            "row 0 must be a list of 5 values",
        ),
        ({"dataframe_records": []}, 400, "no rows"),
        ({"dataframe_records": [1]}, 400, "list of records"),
        ({"inputs": {"a": [1, 2], "b": [1]}}, 400, "different lengths"),
        ({"inputs": {"a": [[1, 2]]}}, 400, "not a single value"),
        ({"inputs": {"a": [1]}, "request_id": "bad id/1"}, 400, "request_id must be"),
        ({"inputs": {"a": [1]}, "colour": "red"}, 400, "unknown field"),
        ({"inputs": {"a": list(range(51))}}, 413, "limit of 50"),
    ],
)
def test_malformed_requests_get_a_clear_4xx(env: Env, body: Any, status: int, message: str) -> None:
    resp = _post(env, env.ok, body)
    assert resp.status_code == status, resp.text
    assert message in resp.json()["error"]


def test_unknown_pipeline_permanent_pipeline_and_unknown_request(env: Env) -> None:
    body = {"inputs": {"a": [1]}}
    resp = _post(env, "no_such_pipeline", body)
    assert resp.status_code == 404 and "no pipeline named 'no_such_pipeline'" in resp.json()["error"]
    resp = _post(env, "seattle_weather", body)
    assert resp.status_code == 404 and "deploy.mode: transient" in resp.json()["error"]
    with env.server.client() as client:
        resp = client.post(f"/v1/models/{env.ok}/transient", content=b"{not json")
        assert resp.status_code == 400 and "not valid JSON" in resp.json()["error"]
        resp = client.get("/v1/predictions/never-sent")
        assert resp.status_code == 404 and "no transient request" in resp.json()["error"]
