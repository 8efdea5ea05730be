"""Monitoring through real Airflow (`<name>__monitor` with DAG.test), the real prediction store, a
webhook receiver and an SMTP server on 127.0.0.1, and the real prediction API.

Every test works in its own copy of the session's shared registry (breast_cancer and cars trained
once), with a fresh prediction store, and a copy of the example spec that names its receivers.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn import metrics

from tests.conftest import EXAMPLES
from tests.integration.conftest import Airfoil, free_port, home_copy, serving

pytestmark = pytest.mark.integration

NAME = "breast_cancer"
TRAINING = EXAMPLES / NAME / "data" / f"{NAME}.csv"
MONITOR = """monitor:
  schedule: "@daily"
  labels: {path: "labels/*.csv", key: id}
  min: {accuracy: 0.9, f1: 0.85}
  retrain_on_drift: true
  alert:
    webhook: {conn_id: airfoil_hook, endpoint: /hooks/airfoil}
    email: {to: [ops@example.com], conn_id: airfoil_smtp}
"""


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, json.loads(body)))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@dataclass
class Receivers:
    """A webhook receiver and an SMTP server; what each got."""

    http: ThreadingHTTPServer
    mailbox: _Mailbox
    smtp_port: int

    @property
    def posts(self) -> list[tuple[str, dict[str, Any]]]:
        return self.http.posts  # type: ignore[attr-defined,no-any-return]

    @property
    def mails(self) -> list[Any]:
        return [message_from_bytes(m.content) for m in self.mailbox.messages]

    @property
    def connections(self) -> dict[str, str]:
        """The Airflow connections the spec's `alert:` names, as environment variables."""
        return {
            "AIRFLOW_CONN_AIRFOIL_HOOK": f"http://127.0.0.1:{self.http.server_port}",
            "AIRFLOW_CONN_AIRFOIL_SMTP": f"smtp://127.0.0.1:{self.smtp_port}"
            "?disable_ssl=true&disable_tls=true&from_email=airfoil%40example.com",
        }


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    from aiosmtpd.controller import Controller

    http = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    http.posts = []  # type: ignore[attr-defined]
    threading.Thread(target=http.serve_forever, daemon=True).start()
    mailbox = _Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        yield Receivers(http, mailbox, smtp.port)
    finally:
        smtp.stop()
        http.shutdown()


@dataclass
class MonitorAirfoil(Airfoil):
    """`airfoil` with extra environment (Airflow connections, API settings)."""

    extra: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, **self.extra}

    @property
    def store(self) -> sa.Engine:
        return sa.create_engine(f"sqlite:///{self.home / 'predictions.db'}")

    def monitor(self, *args: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self("monitor", *args, "--json").stdout)
        return out


# What a retraining the drift alert starts trains: one small candidate, fitted in the task's process
# (these tests are about the alert and that a new version follows, not about the search).
SLIM_TRAIN = {
    "  cv: 5\n": "  cv: 2\n  n_jobs: 1\n",
    "    - {estimator: sklearn.ensemble.RandomForestClassifier, params: {n_estimators: [100], "
    "max_depth: [null, 8]}}\n": "",
}


def _world(
    base: Airfoil,
    tmp_path: Path,
    example: str,
    monitor: str,
    env: dict[str, str],
    replace: dict[str, str] | None = None,
) -> MonitorAirfoil:
    """A copy of the shared home (fresh store and logs) and of `example` with `monitor` as its section
    (and `replace`'s edits); the copy is the spec this home knows the pipeline by."""
    home = home_copy(base, tmp_path / "home")
    folder = tmp_path / example
    shutil.copytree(EXAMPLES / example, folder)
    spec = folder / "pipeline.yaml"
    text = spec.read_text()
    for old, new in (replace or {}).items():
        assert old in text, f"{old!r} not in {spec}"
        text = text.replace(old, new)
    text = text[: text.index("monitor:")] if "monitor:" in text else text
    spec.write_text(text + monitor)
    (home / "pipelines.txt").write_text(f"{spec}\n")
    return MonitorAirfoil(home=home, workdir=tmp_path, extra=env)


def _shifted(path: Path, rows: int = 10_000, shift: float = 0.5, seed: int = 0) -> Path:
    """`rows` rows resampled from the training data, `mean_radius` moved by `shift` standard deviations."""
    data = pd.read_csv(TRAINING).drop(columns=["diagnosis"])
    frame = data.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    frame["mean_radius"] += shift * data["mean_radius"].std()
    frame["id"] = np.arange(900_000, 900_000 + rows)
    frame.to_csv(path, index=False)
    return path


def _drift_events(home: Path) -> int:
    """Events on airfoil://breast_cancer/drift in Airflow's metadata DB."""
    with sqlite3.connect(home / "airflow" / "airflow.db") as conn:
        (n,) = conn.execute(
            "select count(*) from asset_event e join asset a on a.id = e.asset_id where a.uri = ?",
            (f"airfoil://{NAME}/drift",),
        ).fetchone()
    return int(n)


def test_drift_alerts_once_and_retrains_while_unchanged_data_triggers_nothing(
    champions_registry: Airfoil, tmp_path: Path, receivers: Receivers
) -> None:
    af = _world(champions_registry, tmp_path, NAME, MONITOR, receivers.connections, SLIM_TRAIN)
    before = len(af.versions(NAME))

    af("predict", NAME, "--input", str(_shifted(tmp_path / "shifted.csv")))
    result = af.monitor(NAME)
    assert result["rows"] == 10_000 and result["alert"], result["message"]
    assert result["drifted_features"] == ["mean_radius"], result["drifted_features"]
    radius = next(f for f in result["features"] if f["name"] == "mean_radius")
    assert radius["test"] == "ks" and radius["p_value"] < 1e-9 and radius["psi"] > 0.1
    assert set(radius) >= {"name", "type", "test", "statistic", "p_value", "threshold", "drifted"}
    assert set(result) >= {
        "pipeline", "version", "window", "rows", "features", "dataset_drift", "drift_share",
        "prediction_drift", "performance", "alert", "retrain_triggered",
    }  # fmt: skip
    assert result["dataset_drift"] is False and result["drift_share"] == pytest.approx(1 / 30, abs=1e-6)
    assert result["retrain_triggered"] and result["alerts_sent"] == ["webhook", "email"]

    # exactly one alert on each channel
    assert len(receivers.posts) == 1 and len(receivers.mails) == 1
    path, body = receivers.posts[0]
    assert path == "/hooks/airfoil" and body["pipeline"] == NAME
    assert [f["name"] for f in body["drifted_features"]] == ["mean_radius"]
    mail = receivers.mails[0]
    assert mail["To"] == "ops@example.com" and NAME in mail["Subject"]
    assert "mean_radius" in mail.get_payload(0).get_payload(decode=True).decode()

    # the drift Asset was emitted once, and prepare -> train registered a new version
    assert _drift_events(af.home) == 1
    versions = af.versions(NAME)
    assert len(versions) == before + 1
    assert result["retrained_version"] == max(v["version"] for v in versions)

    # a bootstrap sample of the training data: no drift, no alert, nothing triggered
    af("predict", NAME, "--input", str(_shifted(tmp_path / "same.csv", shift=0.0, seed=1)))
    calm = af.monitor(NAME)
    assert calm["rows"] == 10_000, calm["message"]
    assert not calm["alert"] and calm["drifted_features"] == [] and not calm["retrain_triggered"]
    assert len(af.versions(NAME)) == before + 1
    assert len(receivers.posts) == 1 and len(receivers.mails) == 1
    assert _drift_events(af.home) == 1

    # nothing scored since: said plainly, exit 0
    empty = af.monitor(NAME)
    assert empty["rows"] == 0 and "no scored rows yet" in empty["message"] and not empty["alert"]


def test_live_metrics_from_arriving_labels_match_scikit_learn(
    champions_registry: Airfoil, tmp_path: Path
) -> None:
    af = _world(champions_registry, tmp_path, NAME, MONITOR.split("  alert:", maxsplit=1)[0], {})
    spec = tmp_path / NAME / "pipeline.yaml"
    af("run", str(spec), "--only", "batch_predict")
    result = af.monitor(NAME)
    assert result["rows"] == 197 and result["rejected"] == 3

    with af.store.connect() as conn:
        stored = pd.read_sql(
            "select row_id, prediction from airfoil_predictions where rejected is null", conn
        )
    labels = pd.concat(
        pd.read_csv(p, dtype={"id": str}) for p in sorted((tmp_path / NAME / "labels").glob("*.csv"))
    )
    joined = stored.merge(labels, left_on="row_id", right_on="id")
    assert result["performance_rows"] == len(joined) == 197
    y, p = joined["diagnosis"], joined["prediction"]
    assert result["performance"] == pytest.approx(
        {
            "accuracy": metrics.accuracy_score(y, p),
            "precision": metrics.precision_score(y, p, pos_label="malignant"),
            "recall": metrics.recall_score(y, p, pos_label="malignant"),
            "f1": metrics.f1_score(y, p, pos_label="malignant"),
        }
    )

    # a label that contradicts the model on every row: the live metrics fall under monitor.min
    wrong = joined.assign(diagnosis=np.where(joined["prediction"] == "benign", "malignant", "benign"))
    labels_dir = tmp_path / NAME / "labels"
    for old in labels_dir.glob("*.csv"):
        old.unlink()
    wrong[["row_id", "diagnosis"]].rename(columns={"row_id": "id"}).to_csv(
        labels_dir / "wrong.csv", index=False
    )
    # the monitor reads the labels when it runs: nothing is scored again (test_batch: a re-run of
    # batch_predict scores no block twice)
    again = af.monitor(NAME, "--since", "2000-01-01")
    assert again["performance"]["accuracy"] == 0.0 and again["alert"]
    assert any(r.startswith("live accuracy 0.0000 is under monitor.min.accuracy") for r in again["reasons"])
    assert not again["retrain_triggered"]  # live metrics alert; retraining follows drift only


def test_a_categorical_shift_is_found(champions_registry: Airfoil, tmp_path: Path) -> None:
    af = _world(champions_registry, tmp_path, "cars", 'monitor: {schedule: "@daily"}\n', {})
    latest = json.loads((af.home / "artifacts" / "cars" / "dataset" / "latest.json").read_text())
    train = pd.read_parquet(latest["train"]["uri"].removeprefix("file://"))
    frame = train.drop(columns=["Miles_per_Gallon"]).sample(2000, replace=True, random_state=0)
    frame["Origin"] = np.random.default_rng(0).choice(["USA", "Europe", "Japan"], 2000, p=[0.2, 0.6, 0.2])
    frame.to_parquet(tmp_path / "europe.parquet")
    af("predict", "cars", "--input", str(tmp_path / "europe.parquet"))
    result = af.monitor("cars")
    assert "Origin" in result["drifted_features"], result["features"]
    origin = next(f for f in result["features"] if f["name"] == "Origin")
    assert origin["type"] == "categorical" and origin["test"] == "chi2" and origin["p_value"] < 1e-9
    assert result["alert"] and not result["retrain_triggered"]


def test_the_api_profiles_what_it_scores_and_answers_the_last_verdict(
    champions_registry: Airfoil, tmp_path: Path
) -> None:
    af = _world(champions_registry, tmp_path, NAME, 'monitor: {schedule: "@daily"}\n', {})
    # a random sample: the file itself is ordered (its first rows are mostly malignant, a real drift)
    data = pd.read_csv(TRAINING).drop(columns=["diagnosis", "id"]).sample(120, random_state=0)
    with serving(af, AIRFOIL_MONITOR_FLUSH_SECONDS="0.3") as server, server.client() as client:
        assert client.get(f"/v1/models/{NAME}/monitor").status_code == 404  # no run yet
        for i in range(120):
            row = data.iloc[[i]]
            body = {"dataframe_split": {"columns": list(row.columns), "data": row.to_numpy().tolist()}}
            assert client.post(f"/v1/models/{NAME}/invocations", json=body).status_code == 200
        deadline = time.monotonic() + 30
        while _api_rows(af) < 120:
            assert time.monotonic() < deadline, f"API profiles: {_api_rows(af)} rows\n{server.output()}"
            time.sleep(0.2)
        assert _api_rows(af) == 120

        result = af.monitor(NAME)
        assert result["rows"] == 120 and not result["alert"], result["message"]
        answered = client.get(f"/v1/models/{NAME}/monitor")
        assert answered.status_code == 200
        served = answered.json()
        assert {k: served[k] for k in ("pipeline", "version", "rows", "features", "window")} == {
            k: result[k] for k in ("pipeline", "version", "rows", "features", "window")
        }
        import httpx

        assert httpx.get(f"{server.url}/v1/models/{NAME}/monitor").status_code == 401  # token required
    assert "Traceback" not in server.output()


def _api_rows(af: MonitorAirfoil) -> int:
    try:
        with af.store.connect() as conn:
            return int(
                conn.execute(
                    sa.text("select coalesce(sum(rows), 0) from airfoil_profiles where source = 'api'")
                ).scalar()
                or 0
            )
    except sa.exc.OperationalError:  # the store's tables do not exist yet
        return 0
