"""The prediction store (airfoil.store): migrations, the ledger, chunk upserts; on SQLite and PostgreSQL.

SQLite runs in `tmp_path`. PostgreSQL is the machine's (127.0.0.1:5432, db `test`), shared with other
tests: each test uses a pipeline name of its own and deletes only its rows; tables are never dropped.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa

from airfoil.store import PredictionStore, StoreError
from airfoil.store.migrate import MIGRATIONS
from airfoil.store.schema import PREDICTION_COLUMNS
from tests.unit.store.store_support import chunk


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def test_the_fast_path_knows_alembics_head() -> None:
    from airfoil.store.migrate import HEAD

    assert _head() == HEAD, "a new migration: set store.migrate.HEAD to its revision"


def test_upgrade_is_idempotent_and_at_head(store_url: str) -> None:
    first = PredictionStore(store_url)
    first.upgrade()
    first.upgrade()
    second = PredictionStore(store_url)  # another process opening the same database later
    second.upgrade()
    try:
        assert first.revision() == second.revision() == _head()
        tables = set(sa.inspect(first.engine).get_table_names())
        assert {"airfoil_batches", "airfoil_predictions", "airfoil_alembic_version"} <= tables
        columns = {c["name"] for c in sa.inspect(first.engine).get_columns("airfoil_predictions")}
        assert columns == {"batch_id", *PREDICTION_COLUMNS}
    finally:
        first.close()
        second.close()


def test_fresh_sqlite_store_starts_at_head(tmp_path: Path) -> None:
    store = PredictionStore(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'p.db'}")
    try:
        assert store.revision() is None
        store.upgrade()
        assert store.revision() == _head()
        assert "alembic_version" not in sa.inspect(store.engine).get_table_names()  # a table of its own
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://u@h/db", "sqlite:/// or postgresql://"),
        ("sqlite://", "needs a file path"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        PredictionStore(url)


def test_a_database_that_does_not_answer_is_unavailable_not_a_user_error(tmp_path) -> None:
    """A task retries `Unavailable` (PostgreSQL restarting) instead of failing at once."""
    from airfoil.errors import Unavailable
    from airfoil.settings import load_settings
    from airfoil.store import open_store

    settings = load_settings(
        {"AIRFOIL_HOME": str(tmp_path), "AIRFOIL_STORE_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/x"}
    )
    with pytest.raises(Unavailable, match=r"(?s)cannot open the prediction store .*AIRFOIL_STORE_URL"):
        open_store(settings)


def test_open_batch_twice_returns_the_same_batch(store: PredictionStore, pipeline: str) -> None:
    first, created = store.open_batch(pipeline, "block", "a.csv@1", source="a.csv", fingerprint="f" * 64)
    assert created
    assert (first.status, first.rows_total, first.chunks_done, first.source) == ("pending", 0, 0, "a.csv")
    again, created_again = store.open_batch(pipeline, "block", "a.csv@1", source="other")
    assert not created_again
    assert again.id == first.id and again.source == "a.csv"  # the fields of the first call stay
    other, created_other = store.open_batch(pipeline, "file", "a.csv@1")  # another kind: another batch
    assert created_other and other.id != first.id
    assert [b.id for b in store.batches(pipeline)] == [first.id, other.id]
    assert [b.id for b in store.batches(pipeline, "block")] == [first.id]


def test_open_batch_is_race_safe(store: PredictionStore, store_url: str, pipeline: str) -> None:
    """Callers racing for one key (other connections, as other workers would) all get the one batch."""
    stores = [PredictionStore(store_url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def race(s: PredictionStore) -> None:
        try:
            barrier.wait()
            batch, created = s.open_batch(pipeline, "block", "raced@1")
            results.append((batch.id, created))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        for s in stores:
            s.close()
    assert not errors, errors
    assert len(results) == len(stores)
    assert len({batch_id for batch_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(store.batches(pipeline)) == 1


def test_write_chunk_upserts_and_counts(store: PredictionStore, pipeline: str) -> None:
    batch, _ = store.open_batch(pipeline, "block", "b@1")
    store.start(batch.id, restart=True, model_version=3, classes=["no", "yes"])
    store.write_chunk(batch.id, chunk(range(0, 5), rejected={1: "x: 'a' is not a number"}), 0)
    store.write_chunk(batch.id, chunk(range(5, 8)), 1)
    b = store.batch_by_id(batch.id)
    assert (b.status, b.rows_total, b.rows_scored, b.rows_rejected, b.chunks_done) == ("running", 8, 7, 1, 2)
    assert store.count(batch.id) == {"rows": 8, "scored": 7, "rejected": 1}

    # The same rows again (another try of chunk 1): one row per key, the newer values.
    store.write_chunk(batch.id, chunk(range(5, 8), prediction="no"), 1)
    rows = store.predictions(batch.id)
    assert [r["row_index"] for r in rows] == list(range(8))
    assert [r["prediction"] for r in rows] == ["yes", None, "yes", "yes", "yes", "no", "no", "no"]
    assert rows[1]["rejected"] == "x: 'a' is not a number" and rows[1]["probabilities"] is None
    assert rows[0]["row_id"] == "id0" and rows[0]["model_version"] == 3
    assert store.count(pipeline=pipeline) == {"rows": 8, "scored": 7, "rejected": 1}
    assert store.batch_by_id(batch.id).chunks_done == 2

    done = store.finish(batch.id, "done", rows_total=8)
    assert (done.status, done.rows_total, done.classes) == ("done", 8, ["no", "yes"])


def test_start_without_restart_keeps_rows_and_restart_drops_them(
    store: PredictionStore, pipeline: str
) -> None:
    batch, _ = store.open_batch(pipeline, "block", "c@1")
    store.start(batch.id, restart=True, model_version=3)
    store.write_chunk(batch.id, chunk(range(0, 4)), 0)
    resumed = store.start(batch.id, restart=False, model_version=3)
    assert (resumed.status, resumed.rows_total, resumed.chunks_done) == ("running", 4, 1)
    assert store.count(batch.id)["rows"] == 4
    restarted = store.start(batch.id, restart=True, model_version=4)
    assert (restarted.rows_total, restarted.rows_scored, restarted.chunks_done) == (0, 0, 0)
    assert restarted.model_version == 4
    assert store.count(batch.id)["rows"] == 0


def test_write_chunk_done_marks_the_batch_done(store: PredictionStore, pipeline: str) -> None:
    batch, _ = store.open_batch(pipeline, "request", f"req-{uuid.uuid4().hex}")
    store.write_chunk(batch.id, chunk(range(3)), 0, done=True)
    found = store.request(batch.batch_key)
    assert found is not None
    assert (found.status, found.rows_total, found.rows_scored) == ("done", 3, 3)
    assert found.created_at.isoformat().startswith(str(found.created_at.year))


def test_failed_write_stores_nothing(store: PredictionStore, pipeline: str) -> None:
    """A chunk and its progress go in one transaction: a chunk that cannot be stored leaves no trace."""
    batch, _ = store.open_batch(pipeline, "block", "d@1")
    store.start(batch.id, restart=True)
    store.write_chunk(batch.id, chunk(range(2)), 0)
    good = chunk(range(2, 4))
    bad = good.set_column(0, "row_index", pa.array([2, None], pa.int64()))  # a key the database refuses
    with pytest.raises(Exception, match=r"(?i)null"):
        store.write_chunk(batch.id, bad, 1)
    b = store.batch_by_id(batch.id)
    assert (b.rows_total, b.chunks_done) == (2, 1)
    assert store.count(batch.id)["rows"] == 2
    store.write_chunk(batch.id, chunk(range(2, 4)), 1)  # the store still works afterwards
    assert store.count(batch.id)["rows"] == 4


def test_missing_batch(store: PredictionStore, pipeline: str) -> None:
    assert store.batch(pipeline, "block", "nope") is None
    with pytest.raises(StoreError, match="no batch with id"):
        store.batch_by_id(-1)


def test_large_chunk_round_trip(store: PredictionStore, pipeline: str) -> None:
    batch, _ = store.open_batch(pipeline, "block", "big@1")
    n = 50_000
    table = pa.table(
        {
            "row_index": pa.array(np.arange(n), pa.int64()),
            "row_id": pa.array(np.arange(n).astype(str)),
            "model_version": pa.array(np.full(n, 1), pa.int64()),
            "prediction": pa.array(np.where(np.arange(n) % 2 == 0, "yes", "no")),
            "probabilities": pa.nulls(n, pa.string()),
            "rejected": pa.nulls(n, pa.string()),
        }
    )
    store.write_chunk(batch.id, table, 0)
    store.write_chunk(batch.id, table, 0)  # the same chunk again: still one row per key
    assert store.count(batch.id) == {"rows": n, "scored": n, "rejected": 0}
