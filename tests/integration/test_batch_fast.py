"""`airfoil predict` on the fast path: the champion found and loaded without MLflow, the store opened
without SQLAlchemy, on SQLite and PostgreSQL; the rows it stores are the ones the registry's model
predicts."""

from __future__ import annotations

import hashlib
import json
import shutil
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


SCORE = """
import json, sys
from airfoil.steps.context import RunInfo
from airfoil.steps.runner import run_step
args = json.loads(sys.argv[1])
run = RunInfo(args["dag_id"], "test", "score", map_index=0)
inputs = {"model": args["model"], "block": args["block"]}
out = run_step("airfoil.steps.batch:score", args["spec"], run, inputs)
left_out = ("pydantic", "airfoil.spec.model", "sklearn", "skops", "mlflow", "sqlalchemy", "pandas")
print(json.dumps({"out": out, "heavy": sorted(m for m in left_out if m in sys.modules)}))
"""


@pytest.mark.parametrize("name", ["breast_cancer", "cars"])
def test_score_task_imports_no_spec_model_pandas_or_sklearn(
    champions_registry: Airfoil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A batch `score` task (a new process per block on a cluster) with what the `champion` task hands
    it: neither the spec's pydantic model nor pandas, scikit-learn or MLflow is imported, and it
    stores exactly the rows a `score` task reading the spec stores."""
    from airfoil.steps.blocks import file_block
    from airfoil.steps.context import RunInfo
    from airfoil.steps.runner import run_step

    monkeypatch.setenv("AIRFOIL_HOME", str(champions_registry.home))
    spec = tmp_path / "pipeline.yaml"  # the example with a batch section (cars has none)
    shutil.copytree(EXAMPLES / name, tmp_path, dirs_exist_ok=True)
    if name == "cars":
        text = spec.read_text() + "deploy:\n  batch: {input: 'blocks/*.csv', chunk_rows: 100}\n"
        spec.write_text(text)
        source = (EXAMPLES / name / "data" / "cars.csv").read_text().splitlines()[:250]
    else:
        source = SOURCE.read_text().splitlines()
    source.append(",".join(["oops"] * len(source[0].split(","))))  # one row rejected
    dag_id = f"{name}__batch_predict"
    model = run_step("airfoil.steps.batch:pin_champion", str(spec), RunInfo(dag_id, "test", "champion"), {})
    assert model["card"] is not None and model["scoring"]["pipeline"] == name

    blocks = {}
    for side in ("handed", "from_spec"):
        path = tmp_path / "blocks" / f"{side}.csv"
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(source) + "\n")
        blocks[side] = file_block(str(path))
    # Each side in a new process, as on a cluster; the other as a task did before it was handed the
    # spec's fields (it reads the spec): both store the same rows.
    models = {"handed": model, "from_spec": {k: v for k, v in model.items() if k != "scoring"}}
    child = {}
    for side, block in blocks.items():
        args = {"spec": str(spec), "dag_id": dag_id, "model": models[side], "block": block}
        proc = subprocess.run(
            [sys.executable, "-c", SCORE, json.dumps(args)],
            env=champions_registry.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        child[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert child["handed"]["heavy"] == []
    assert "airfoil.spec.model" in child["from_spec"]["heavy"]
    counts = {side: {k: c["out"][k] for k in ("rows", "scored", "rejected")} for side, c in child.items()}
    assert counts["handed"] == counts["from_spec"]
    assert counts["handed"]["rows"] == len(source) - 1 and counts["handed"]["rejected"] >= 1
    store = PredictionStore(load_settings().store_url)
    stored = {}
    for side, block in blocks.items():
        batch = store.batch(name, BatchKind.block, block["id"])
        assert batch is not None and batch.status == "done"
        stored[side] = [
            {k: r[k] for k in ("row_index", "row_id", "prediction", "probabilities", "rejected")}
            for r in store.predictions(batch.id)
        ]
    store.close()
    assert stored["handed"] == stored["from_spec"] and len(stored["handed"]) == len(source) - 1
