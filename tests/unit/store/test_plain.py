"""The plain store of scoring processes (no SQLAlchemy): the same ledger and rows as `PredictionStore`
reads them, plain inserts for a fresh batch, upserts after it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from airfoil.settings import load_settings
from airfoil.store import BatchKind, BatchStatus, PredictionStore
from airfoil.store.plain import PlainStore, open_plain_store
from tests.unit.store.store_support import chunk


def test_the_ledger_and_rows_as_the_sqlalchemy_store_reads_them(
    store: PredictionStore, store_url: str, pipeline: str
) -> None:
    plain = PlainStore(store_url)
    try:
        batch, created = plain.open_batch(pipeline, BatchKind.file, "f@1", source="f.csv", fingerprint="ab")
        assert created and batch.status == BatchStatus.pending
        assert plain.open_batch(pipeline, BatchKind.file, "f@1") == (batch, False)
        assert store.batch(pipeline, BatchKind.file, "f@1") == batch

        plain.start(batch.id, restart=True, model_version=3, classes=["no", "yes"])
        plain.write_chunk(batch.id, chunk(range(0, 100)), 0, fresh=True)
        plain.write_chunk(batch.id, chunk(range(100, 150), rejected={120: "bad"}), 1, fresh=True)
        # A retry stores chunk 1 again: upserted, one row per index.
        plain.write_chunk(batch.id, chunk(range(100, 150), "no"), 1)
        done = plain.finish(batch.id, BatchStatus.done, rows_total=150)
        seen = store.batch_by_id(batch.id)
        assert done == seen
        assert (seen.status, seen.model_version, seen.classes, seen.chunks_done) == (
            "done",
            3,
            ["no", "yes"],
            2,
        )
        assert store.count(batch.id) == {"rows": 150, "scored": 150, "rejected": 0}
        rows = store.predictions(batch.id)
        assert [r["row_index"] for r in rows] == list(range(150))
        assert {r["prediction"] for r in rows[100:]} == {"no"}

        again = plain.start(batch.id, restart=True, model_version=4)
        assert (again.rows_total, again.chunks_done, store.count(batch.id)["rows"]) == (0, 0, 0)
    finally:
        plain.close()


def test_a_fresh_store_is_migrated_once_then_opened_plain(tmp_path: Path) -> None:
    settings = load_settings(
        {"AIRFOIL_HOME": str(tmp_path), "AIRFOIL_STORE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    )
    store = open_plain_store(settings)
    assert store.revision() is not None
    assert open_plain_store(settings) is store


def test_opening_the_plain_store_imports_no_sqlalchemy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    PredictionStore(url).upgrade()
    code = (
        "import sys; from airfoil.store.plain import PlainStore; from airfoil.store import BatchKind; "
        f"s = PlainStore({url!r}); s.open_batch('p', BatchKind.file, 'k'); "
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
