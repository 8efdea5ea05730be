"""Transient requests without Airflow: body parsing, and the train-predict step on a real SQLite store."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from unit_support import classification_frame

from airfoil.errors import DataError
from airfoil.serving.inputs import BadInput
from airfoil.serving.transient import parse_request
from airfoil.steps import io
from airfoil.steps.context import RunInfo
from airfoil.steps.model import feature_frame
from airfoil.steps.train import search, tune
from airfoil.steps.transient import train_predict
from airfoil.store import open_store


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    """Close the stores `open_store` cached (their ADBC connections) when each test ends."""
    yield
    from airfoil.store import db

    with db._STORES_LOCK:
        for store in db._STORES.values():
            store.close()
        db._STORES.clear()


def test_parse_request_formats_agree() -> None:
    split = {"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2.5, None]]}}
    records = {"dataframe_records": [{"a": 1, "b": "x"}, {"a": 2.5}]}
    inputs = {"inputs": {"a": [1, 2.5], "b": ["x", None]}, "request_id": "r-1"}
    assert parse_request(split, 10) == (None, {"a": [1, 2.5], "b": ["x", None]})
    assert parse_request(records, 10) == (None, {"a": [1, 2.5], "b": ["x", None]})
    assert parse_request(inputs, 10) == ("r-1", {"a": [1, 2.5], "b": ["x", None]})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("text", "JSON object"),
        ({"inputs": {"a": [1]}, "request_id": ""}, "request_id must be"),
        ({"inputs": {"a": [1]}, "request_id": "x" * 129}, "request_id must be"),
        ({"inputs": {"a": [1]}, "request_id": 7}, "request_id must be"),
        ({"inputs": {}}, "at least one column"),
        ({"inputs": {"a": 1}}, "every column must be a list"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, "twice"),
        ({"dataframe_split": {"columns": [], "data": []}}, "non-empty list"),
        ({"dataframe_records": [{"a": {"b": 1}}]}, "not a single value"),
        ({"dataframe_records": [{"a": float("nan")}]}, "not a finite number"),
        ({"inputs": {"a": [1]}, "instances": [{"a": 1}]}, "exactly one of"),
    ],
)
def test_parse_request_rejects(body: Any, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_request(body, 10)


def test_parse_request_row_limit_is_413() -> None:
    with pytest.raises(BadInput) as err:
        parse_request({"inputs": {"a": [1, 2, 3]}}, 2)
    assert err.value.status == 413


def test_search_is_tune_without_the_file(make_spec, make_ctx) -> None:
    spec = make_spec()
    ctx = make_ctx(spec, task_id="tune")
    df = classification_frame(60)
    tuned = tune(ctx, {"train": io.write_parquet(df, ctx.uri("train.parquet"))}, 0)
    model, summary = search(spec, 0, feature_frame(df, spec), df[spec.target])
    assert {k: v for k, v in tuned.items() if k not in ("model", "fit_seconds")} == {
        k: v for k, v in summary.items() if k != "fit_seconds"
    }
    assert list(tuned) == [*summary, "model"]
    assert hasattr(model, "predict")


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
    return dataclasses.replace(ctx, run=run)


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
    # Nothing but the dataset (written by this test) under the artifact root: no model file.
    root = Path(ctx.settings.artifact_root)
    files = sorted(p.name for p in root.rglob("*") if p.is_file())
    assert files == ["latest.json", "test.parquet", "train.parquet"]
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
