"""The transient step (airfoil.steps.transient) without Airflow, on a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airfoil.artifacts import io
from airfoil.errors import DataError
from airfoil.steps.context import RunInfo
from airfoil.steps.transient import train_predict
from airfoil.store import close_all, open_store
from tests.unit.unit_support import classification_frame


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    """Close the stores `open_store` opened (their ADBC connections) when each test ends."""
    yield
    close_all()


def _prepared(make_spec, make_ctx, **overrides: Any) -> Any:
    spec = make_spec(**overrides)
    ctx = make_ctx(spec, task_id="split")
    df = classification_frame(90)
    train, test = df.iloc[:60], df.iloc[60:]
    dataset = {
        "fingerprint": "f" * 64,
        "train": io.write_parquet(train, ctx.uri("train.parquet")),
        "test": io.write_parquet(test, ctx.uri("test.parquet")),
        "prepared_by": {"dag_id": "demo__prepare", "run_id": "r"},
    }
    io.write_json(ctx.pipeline_uri("dataset", "latest.json"), dataset)
    return spec, ctx


def _transient_ctx(ctx: Any, conf: dict[str, Any]) -> Any:
    run = RunInfo(dag_id="demo__transient", run_id="transient__r1", task_id="train_predict", conf=conf)
    return ctx.with_run(run)


def test_train_predict_stores_predictions_with_lineage_and_rejects_bad_rows(make_spec, make_ctx) -> None:
    _, ctx = _prepared(make_spec, make_ctx)
    rows = {
        "x1": [0.9, "oops", 0.1, None],
        "x2": [0.5, 0.1, True, 0.2],
        "color": ["red", "blue", "red", None],
    }
    out = train_predict(_transient_ctx(ctx, {"request_id": "r1", "rows": rows}))
    assert out["status"] == "done" and (out["scored"], out["rejected"]) == (2, 2)
    store = open_store(ctx.settings)
    batch = store.request("r1")
    assert batch is not None and batch.status == "done" and batch.dag_run_id == "transient__r1"
    assert batch.lineage["dataset_fingerprint"] == "f" * 64
    assert batch.lineage["params"]["C"] in (0.1, 1.0)
    assert "accuracy" in batch.lineage["holdout_metrics"]
    assert batch.classes == ["no", "yes"]
    stored = store.predictions(batch.id)
    assert [r["prediction"] is None for r in stored] == [False, True, True, False]
    assert "x1: 'oops' is not a number" in stored[1]["rejected"]
    assert "x2: 'true' is not a number" in stored[2]["rejected"]
    # Nothing but the dataset (written by this test) and the monitor's reference of that dataset
    # under the artifact root: no model file.
    root = Path(ctx.settings.artifact_root)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert [f for f in files if "references" in f] == [f"demo/references/{'f' * 64}.json"]
    assert sorted(Path(f).name for f in files if "references" not in f) == [
        "latest.json",
        "test.parquet",
        "train.parquet",
    ]
    # The same request again: not trained twice.
    again = train_predict(_transient_ctx(ctx, {"request_id": "r1", "rows": rows}))
    assert again["reused"] is True


def test_train_predict_failure_marks_the_request_failed(make_spec, make_ctx) -> None:
    _, ctx = _prepared(make_spec, make_ctx)
    rows = {"x1": [0.9], "color": ["red"]}  # x2 missing: the whole request cannot be scored
    with pytest.raises(DataError, match="no column"):
        train_predict(_transient_ctx(ctx, {"request_id": "r2", "rows": rows}))
    store = open_store(ctx.settings)
    batch = store.request("r2")
    assert batch is not None and batch.status == "failed" and "x2" in (batch.error or "")
    assert store.count(batch.id)["rows"] == 0


def test_train_predict_needs_a_request_in_the_conf(make_spec, make_ctx) -> None:
    _, ctx = _prepared(make_spec, make_ctx)
    with pytest.raises(DataError, match="request_id"):
        train_predict(_transient_ctx(ctx, {}))
