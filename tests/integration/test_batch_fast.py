"""`airfoil predict` on the fast path: the champion found and loaded without MLflow, the store opened
without SQLAlchemy, on SQLite and PostgreSQL; the rows it stores are the ones the registry's model
predicts."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from airfoil.registry.loaded import load_model
from airfoil.settings import load_settings
from airfoil.store import BatchKind, PredictionStore
from tests.conftest import EXAMPLES, require_postgres
from tests.integration.conftest import Airfoil

pytestmark = pytest.mark.integration

NAME = "breast_cancer"
SOURCE = EXAMPLES / NAME / "incoming" / "patients-2024-06-02.csv"  # 80 clean rows
PREDICT = """
import json, sys
from airfoil.cli.main import main
sys.argv = ["airfoil", "predict", {name!r}, "--input", {source!r}, "--json"]
try:
    main()
finally:
    heavy = sorted(m for m in ("mlflow", "sqlalchemy", "alembic") if m in sys.modules)
    print(json.dumps({{"heavy": heavy}}), file=sys.stderr)
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_predict_imports_neither_mlflow_nor_sqlalchemy(
    champions_registry: Airfoil, tmp_path: Path, backend: str
) -> None:
    url = require_postgres() if backend == "postgresql" else f"sqlite:///{tmp_path / 'p.db'}"
    store = PredictionStore(url)
    store.upgrade()  # a store at the newest schema: nothing to migrate
    code = PREDICT.format(name=NAME, source=str(SOURCE))
    env = {**champions_registry.env, "AIRFOIL_STORE_URL": url}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == {"heavy": []}, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["rows"], summary["scored"], summary["backend"]) == (80, 80, "onnx")
    # Scored under a draft key while the file was hashed, then named by its sha256.
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    assert summary["block"] == f"{SOURCE}@{digest[:16]}"

    # The stored labels are what the version loaded through MLflow predicts.
    settings = load_settings({"AIRFOIL_HOME": str(champions_registry.home)})
    model = load_model(settings, NAME, summary["model_version"])
    import pandas as pd

    frame = pd.read_csv(SOURCE)
    want, _ = model.predict({c: frame[c].tolist() for c in model.column_names})
    batch = store.batch(NAME, BatchKind.file, summary["block"])
    assert batch is not None and batch.status == "done" and batch.fingerprint == digest
    assert [b.batch_key for b in store.batches(NAME, BatchKind.file) if str(SOURCE) in (b.source or "")] == [
        summary["block"]
    ]  # no draft left behind
    stored = store.predictions(batch.id)
    assert [r["prediction"] for r in stored] == [str(x) for x in want]
    with store.engine.begin() as conn:  # the shared PostgreSQL database keeps no rows of this test
        import sqlalchemy as sa

        for table in ("airfoil_predictions", "airfoil_profiles"):
            conn.execute(sa.text(f"delete from {table} where batch_id = :b"), {"b": batch.id})
        conn.execute(sa.text("delete from airfoil_batches where id = :b"), {"b": batch.id})
    store.close()
