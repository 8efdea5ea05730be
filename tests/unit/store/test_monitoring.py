"""Profiles and monitor runs in the prediction store, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pytest

from airfoil.store import PredictionStore
from airfoil.store.monitoring import (
    add_profile,
    monitor_history,
    monitor_run_count,
    profile_count,
    save_monitor_run,
    scored_rows,
    stored_profiles,
)
from tests.unit.store.store_support import chunk


def _profile(
    pipeline: str, key: str, rows: int, batch_id: int | None = None, at: float | None = None
) -> dict:
    return {
        "pipeline": pipeline,
        "profile_key": key,
        "reference": "r" * 64,
        "model_version": 3,
        "source": "block",
        "batch_id": batch_id,
        "rows": rows,
        "scored_at": time.time() if at is None else at,
        "profile": json.dumps({"rows": rows}),
    }


def test_a_chunk_and_its_profile_are_stored_together_once(store: PredictionStore, pipeline: str) -> None:
    batch, _ = store.open_batch(pipeline, "block", "b@1")
    store.start(batch.id, restart=True, model_version=3)
    store.write_chunk(
        batch.id, chunk(range(0, 4)), 0, profile=_profile(pipeline, f"{batch.id}:0", 4, batch.id)
    )
    # the same chunk again (a retry that re-scores it): replaced, not added
    store.write_chunk(
        batch.id, chunk(range(0, 4)), 0, profile=_profile(pipeline, f"{batch.id}:0", 4, batch.id)
    )
    store.write_chunk(
        batch.id, chunk(range(4, 6)), 1, profile=_profile(pipeline, f"{batch.id}:4", 2, batch.id)
    )
    assert profile_count(store, pipeline, batch.id) == {"profiles": 2, "rows": 6}
    # a restart (another version) drops the batch's profiles with its predictions
    store.start(batch.id, restart=True, model_version=4)
    assert profile_count(store, pipeline, batch.id) == {"profiles": 0, "rows": 0}


def test_a_failed_chunk_stores_no_profile(store: PredictionStore, pipeline: str) -> None:
    batch, _ = store.open_batch(pipeline, "block", "b@2")
    store.start(batch.id, restart=True, model_version=3)
    broken = pa.table({"row_index": pa.array([0], pa.int64())})  # no prediction columns
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error
        store.write_chunk(batch.id, broken, 0, profile=_profile(pipeline, f"{batch.id}:0", 1, batch.id))
    assert profile_count(store, pipeline) == {"profiles": 0, "rows": 0}


def test_profiles_in_a_window(store: PredictionStore, pipeline: str) -> None:
    assert add_profile(store, _profile(pipeline, "api:w:1", 5, at=100.0))
    assert not add_profile(store, _profile(pipeline, "api:w:1", 5, at=100.0))  # the same flush twice
    add_profile(store, _profile(pipeline, "api:w:2", 7, at=200.0))
    other = {**_profile(pipeline, "api:w:3", 9, at=150.0), "reference": "o" * 64}
    add_profile(store, other)
    assert [(t, n) for t, n, _ in stored_profiles(store, pipeline, "r" * 64, None, 300.0)] == [
        (100.0, 5),
        (200.0, 7),
    ]
    assert [(t, n) for t, n, _ in stored_profiles(store, pipeline, "r" * 64, 100.0, 300.0)] == [(200.0, 7)]
    # another version counting in the same bins (a retrain on the same data): not this version's rows
    add_profile(store, {**_profile(pipeline, "api:w:4", 11, at=250.0), "model_version": 4})
    assert [n for _, n, _ in stored_profiles(store, pipeline, "r" * 64, None, 300.0, version=3)] == [5, 7]
    assert [n for _, n, _ in stored_profiles(store, pipeline, "r" * 64, None, 300.0, version=4)] == [11]


def test_monitor_runs_replace_on_retry_and_come_newest_first(store: PredictionStore, pipeline: str) -> None:
    first = {"version": 3, "window": {"end_s": 10.0}, "rows": 1, "alert": False}
    save_monitor_run(store, pipeline, "run-1", first)
    save_monitor_run(store, pipeline, "run-1", {**first, "rows": 2})
    save_monitor_run(
        store, pipeline, "run-2", {"version": 4, "window": {"end_s": 20.0}, "rows": 3, "alert": True}
    )
    history = monitor_history(store, pipeline)
    assert [r["rows"] for r in history] == [3, 2]
    assert [r["rows"] for r in monitor_history(store, pipeline, version=3)] == [2]
    assert [r["rows"] for r in monitor_history(store, pipeline, exclude_run="run-2")] == [2]
    assert (monitor_run_count(store, pipeline, 3), monitor_run_count(store, pipeline, None)) == (1, 2)


def test_scored_rows_are_those_with_a_key_and_a_prediction(store: PredictionStore, pipeline: str) -> None:
    batch, _ = store.open_batch(pipeline, "block", "b@3")
    store.start(batch.id, restart=True, model_version=3)
    store.write_chunk(batch.id, chunk(range(0, 4), rejected={2: "bad"}), 0, done=True)
    rows = scored_rows(store, pipeline, 3, None, time.time() + 1)
    assert sorted(rows) == [("id0", "yes"), ("id1", "yes"), ("id3", "yes")]
    assert scored_rows(store, pipeline, 4, None, time.time() + 1) == []
