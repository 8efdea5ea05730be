"""Batch scoring through real Airflow (`<name>__batch_predict`) and `airfoil predict`, into a real store.

Every test scores with the breast_cancer champion of the session's shared registry (trained once,
`champions_registry`), in its own copy of that home, against SQLite (a file per test) or the
machine's PostgreSQL. PostgreSQL rows outlive the test and other tests use the same database, so
every input file name (hence every block id) carries a token unique to the test, and the test's
rows (and only those) are deleted afterwards.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from tests.conftest import EXAMPLES, POSTGRES, require_postgres
from tests.integration.conftest import BIN, Airfoil, home_copy

pytestmark = pytest.mark.integration

NAME = "breast_cancer"
INCOMING = EXAMPLES / NAME / "incoming"
FIRST, SECOND = "patients-2024-06-01", "patients-2024-06-02"  # 120 rows (3 bad) and 80 clean rows
BAD_ROWS = {
    5: "mean_radius: 'unknown' is not a number",
    17: "mean_radius: -3.2 is below the minimum 0",
    42: "mean_radius: missing value, and the model's column allows none",
}
BATCH_LINE = 'batch: {schedule: "@daily", input: "incoming/*.csv", on_new_model: true, key: id}'


@dataclass
class StoreAirfoil(Airfoil):
    """`airfoil` on one home, with the prediction store at `store_url`."""

    store_url: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "AIRFOIL_STORE_URL": self.store_url}


@dataclass
class Case:
    """One test's world: a home with the champion, a spec copy whose inputs carry `token`, the store."""

    airfoil: StoreAirfoil
    folder: Path  # the spec copy's folder
    spec: Path
    token: str
    engine: sa.Engine

    @property
    def incoming(self) -> Path:
        return self.folder / "incoming"

    def file(self, stem: str) -> str:
        """The token-carrying name of an example input file."""
        return f"{stem}-{self.token}.csv"

    def batch_predict(self, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.airfoil("run", str(self.spec), "--only", "batch_predict", check=check)

    def set_batch(self, line: str) -> None:
        text = self.spec.read_text()
        assert BATCH_LINE in text
        self.spec.write_text(text.replace(BATCH_LINE, line))

    def batches(self) -> list[dict[str, Any]]:
        """This test's ledger rows (every key holds the token), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select * from airfoil_batches where pipeline = :p and batch_key like :k order by id"
                ),
                {"p": NAME, "k": f"%{self.token}%"},
            )
            return [dict(r._mapping) for r in rows]

    def block(self, stem: str) -> dict[str, Any]:
        found = [b for b in self.batches() if b["batch_key"].startswith(self.file(stem) + "@")]
        assert len(found) == 1, found
        return found[0]

    def predictions(self, batch_id: int) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(
                sa.text("select * from airfoil_predictions where batch_id = :b order by row_index"),
                conn,
                params={"b": batch_id},
            )

    def profiles(self, batch_id: int) -> tuple[int, int]:
        """(profiles, rows they count) stored for a batch: one per stored chunk, its scored rows."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text("select count(*), coalesce(sum(rows), 0) from airfoil_profiles where batch_id = :b"),
                {"b": batch_id},
            ).one()
        return int(row[0]), int(row[1])

    def stored_keys(self, batch_id: int) -> tuple[int, int]:
        """(rows, distinct row_index) stored for a batch."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "select count(*), count(distinct row_index) from airfoil_predictions where batch_id = :b"
                ),
                {"b": batch_id},
            ).one()
        return int(row[0]), int(row[1])


def _reachable_postgres() -> None:
    require_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        _reachable_postgres()
    return str(request.param)


def _case(base: Airfoil, tmp_path: Path, backend: str) -> Iterator[Case]:
    token = uuid.uuid4().hex[:10]
    url = POSTGRES if backend == "postgresql" else f"sqlite:///{tmp_path / 'store' / 'predictions.db'}"
    airfoil = StoreAirfoil(home=home_copy(base, tmp_path / "home"), workdir=tmp_path, store_url=url)
    folder = tmp_path / "pipeline"
    shutil.copytree(EXAMPLES / NAME, folder)
    for stem in (FIRST, SECOND):
        (folder / "incoming" / f"{stem}.csv").rename(folder / "incoming" / f"{stem}-{token}.csv")
    engine = sa.create_engine(url)
    case = Case(airfoil=airfoil, folder=folder, spec=folder / "pipeline.yaml", token=token, engine=engine)
    try:
        yield case
    finally:
        if backend == "postgresql":
            with engine.begin() as conn:
                ids = "select id from airfoil_batches where pipeline = :p and batch_key like :k"
                params = {"p": NAME, "k": f"%{token}%"}
                conn.execute(sa.text(f"delete from airfoil_predictions where batch_id in ({ids})"), params)
                conn.execute(sa.text(f"delete from airfoil_profiles where batch_id in ({ids})"), params)
                conn.execute(sa.text(f"delete from airfoil_batches where id in ({ids})"), params)
        engine.dispose()


@pytest.fixture
def case(champions_registry: Airfoil, tmp_path: Path, backend: str) -> Iterator[Case]:
    yield from _case(champions_registry, tmp_path, backend)


@pytest.fixture
def sqlite_case(champions_registry: Airfoil, tmp_path: Path) -> Iterator[Case]:
    yield from _case(champions_registry, tmp_path, "sqlite")


def _champion_predictions(case: Case, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """What the champion itself predicts for `frame` (all rows good), loaded in this process."""
    from airfoil.registry.loaded import load_model
    from airfoil.settings import load_settings

    version = case.airfoil.champion(NAME)
    assert version is not None
    served = load_model(load_settings({"AIRFOIL_HOME": str(case.airfoil.home)}), NAME, version)
    values = {c: frame[c].astype(float).to_numpy() for c in served.column_names}
    labels, proba = served.predict_arrays(values)
    return np.asarray(labels), np.asarray(proba), list(served.classes)


def _rows(path: Path) -> int:
    return len(pd.read_csv(path))


# --- 1 + 2: every file scored once, with the champion; re-runs add nothing; new bytes are a new block -----
def test_scores_each_new_block_once(sqlite_case: Case) -> None:
    case = sqlite_case  # PostgreSQL: the same flow in test_killed_run_... and test_predict_file
    champion = case.airfoil.champion(NAME)
    proc = case.batch_predict()
    assert "batch: 2 new block(s) scored" in proc.stdout, proc.stdout
    assert "197 rows scored, 3 rejected" in proc.stdout, proc.stdout

    blocks = case.batches()
    assert [b["batch_key"].split("@")[0] for b in blocks] == sorted([case.file(FIRST), case.file(SECOND)])
    for stem in (FIRST, SECOND):
        path = case.incoming / case.file(stem)
        block = case.block(stem)
        rows = _rows(path)
        assert block["kind"] == "block"
        assert block["status"] == "done", block
        assert block["model_version"] == champion
        assert block["dag_id"] == f"{NAME}__batch_predict"
        assert block["rows_total"] == rows
        stored = case.predictions(block["id"])
        assert len(stored) == rows
        assert stored["row_index"].tolist() == list(range(rows))
        frame = pd.read_csv(path, dtype={"id": str})
        assert stored["row_id"].tolist() == frame["id"].tolist()
        assert set(stored["model_version"]) == {champion}

        # Rejected rows: exactly the known bad ones, with their reasons, and no prediction.
        rejected = stored[stored["rejected"].notna()]
        expected = BAD_ROWS if stem == FIRST else {}
        assert dict(zip(rejected["row_index"], rejected["rejected"], strict=True)) == expected
        assert rejected["prediction"].isna().all() and rejected["probabilities"].isna().all()
        assert block["rows_rejected"] == len(expected)
        assert block["rows_scored"] == rows - len(expected)
        # The monitor's profile of the block: one per chunk, counting exactly the scored rows.
        assert case.profiles(block["id"]) == (1, rows - len(expected))

        # The scored rows hold what the champion predicts for them.
        good = stored[stored["rejected"].isna()]
        labels, proba, classes = _champion_predictions(case, frame.iloc[good["row_index"].to_numpy()])
        assert good["prediction"].tolist() == [str(label) for label in labels]
        got = np.array([[json.loads(p)[str(c)] for c in classes] for p in good["probabilities"]])
        np.testing.assert_allclose(got, proba, rtol=1e-5, atol=1e-6)

    # Again without changes: nothing is scored, nothing is added.
    before = {b["id"]: b for b in case.batches()}
    proc = case.batch_predict()
    assert "batch: 0 new block(s) scored" in proc.stdout and "(2 scored before)" in proc.stdout, proc.stdout
    after = {b["id"]: b for b in case.batches()}
    assert after.keys() == before.keys()
    for batch_id, b in after.items():
        assert {k: b[k] for k in ("status", "rows_total", "dag_run_id", "chunks_done")} == {
            k: before[batch_id][k] for k in ("status", "rows_total", "dag_run_id", "chunks_done")
        }
        assert case.stored_keys(batch_id) == (b["rows_total"], b["rows_total"])
        assert case.profiles(batch_id) == (1, b["rows_scored"])  # re-scoring a done block adds none

    # A new file and a changed file: two new blocks (the changed one under a new fingerprint).
    third = case.incoming / f"patients-2024-06-03-{case.token}.csv"
    pd.read_csv(case.incoming / case.file(SECOND)).head(30).to_csv(third, index=False)
    changed = case.incoming / case.file(SECOND)
    pd.read_csv(changed).head(50).to_csv(changed, index=False)
    proc = case.batch_predict()
    # The old bytes of the changed file stay in the ledger, done: two blocks done before this run.
    assert "batch: 2 new block(s) scored" in proc.stdout and "(2 scored before)" in proc.stdout, proc.stdout
    blocks = case.batches()
    assert len(blocks) == 4
    new = [b for b in blocks if b["id"] not in before]
    assert sorted((b["batch_key"].split("@")[0], b["rows_total"], b["status"]) for b in new) == [
        (case.file(SECOND), 50, "done"),
        (third.name, 30, "done"),
    ]
    for b in blocks:
        if b["id"] in before:  # the earlier blocks, including the old bytes of the changed file
            assert b["dag_run_id"] == before[b["id"]]["dag_run_id"]
            assert b["rows_total"] == before[b["id"]]["rows_total"]
        assert case.stored_keys(b["id"]) == (b["rows_total"], b["rows_total"])
    fingerprints = [b["fingerprint"] for b in blocks if b["batch_key"].startswith(case.file(SECOND))]
    assert len(set(fingerprints)) == 2


# --- 3: a run killed mid-block resumes after its last stored chunk --------------------------------------
KILL_ROWS, KILL_CHUNK = 300_000, 1000


def _big_parquet(path: Path) -> None:
    """KILL_ROWS rows sampled from the training data, ids 0..n-1."""
    frame = pd.read_csv(EXAMPLES / NAME / "data" / f"{NAME}.csv").drop(columns=["diagnosis"])
    big = frame.sample(KILL_ROWS, replace=True, random_state=0).reset_index(drop=True)
    big["id"] = np.arange(KILL_ROWS)
    pq.write_table(pa.Table.from_pandas(big, preserve_index=False), path)


def _poll_ledger(case: Case) -> list[dict[str, Any]]:
    try:
        return case.batches()
    except sa.exc.DBAPIError:  # the run has not created the store's tables yet
        return []


def _score_results(home: Path) -> list[dict[str, Any]]:
    """What the `score` tasks of the newest run returned, from the run's Airflow log."""
    log = max((home / "logs").glob("run-*.log"), key=lambda p: p.stat().st_mtime).read_text()
    found = re.findall(r"Returned value was: (\{'block': .*?\})\s", log)
    assert found, log[-3000:]
    return [ast.literal_eval(r) for r in found]


def test_killed_run_resumes_without_duplicates(case: Case) -> None:
    (case.folder / "big").mkdir()
    path = case.folder / "big" / f"many-{case.token}.parquet"
    _big_parquet(path)
    case.set_batch(f'batch: {{input: "big/*.parquet", key: id, chunk_rows: {KILL_CHUNK}}}')

    log = case.airfoil.workdir / "killed-run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "airfoil"), "run", str(case.spec), "--only", "batch_predict"],
            cwd=case.airfoil.workdir,
            env=case.airfoil.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kill takes everything it started
        )
    try:
        deadline = time.monotonic() + 240
        while True:
            ledger = _poll_ledger(case)
            if ledger and 0 < ledger[0]["rows_total"] < KILL_ROWS:
                break
            assert proc.poll() is None, f"the run ended before it could be killed:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no progress within 240 s:\n{log.read_text()}"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    (killed,) = case.batches()
    assert killed["status"] == "running", killed
    assert 0 < killed["rows_total"] < KILL_ROWS
    # Each chunk is stored together with the progress that counts it: no more, no less.
    assert killed["rows_total"] == killed["chunks_done"] * KILL_CHUNK
    assert case.stored_keys(killed["id"]) == (killed["rows_total"], killed["rows_total"])
    assert case.profiles(killed["id"]) == (killed["chunks_done"], killed["rows_total"])  # profiled as stored

    proc2 = case.batch_predict()
    assert "batch: 1 new block(s) scored" in proc2.stdout, proc2.stdout
    (done,) = case.batches()
    assert done["id"] == killed["id"]
    assert done["status"] == "done", done
    assert done["rows_total"] == done["rows_scored"] == KILL_ROWS
    assert done["chunks_done"] == KILL_ROWS // KILL_CHUNK
    assert case.stored_keys(done["id"]) == (KILL_ROWS, KILL_ROWS)
    assert case.profiles(done["id"]) == (KILL_ROWS // KILL_CHUNK, KILL_ROWS)  # every row counted once
    (result,) = _score_results(case.airfoil.home)
    assert result["resumed_at"] == killed["rows_total"], result  # continued after the stored chunks
    assert result["rows"] == KILL_ROWS
    with case.engine.connect() as conn:
        mismatched = conn.execute(
            sa.text(
                "select count(*) from airfoil_predictions where batch_id = :b "
                "and (row_id is null or row_id <> cast(row_index as varchar(20)) or prediction is null)"
            ),
            {"b": done["id"]},
        ).scalar()
    assert mismatched == 0


# --- 4: a file without a model column fails its block only; garbage rows are stored as rejected ---------
def test_bad_block_fails_alone_and_bad_rows_are_rejected(sqlite_case: Case) -> None:
    case = sqlite_case
    second = case.incoming / case.file(SECOND)
    no_column = case.incoming / f"no-texture-{case.token}.csv"
    pd.read_csv(second).drop(columns=["mean_texture"]).to_csv(no_column, index=False)
    garbage = case.incoming / f"garbage-{case.token}.csv"
    frame = pd.read_csv(second).head(6).astype({"mean_radius": object, "mean_texture": object})
    frame.loc[0, "mean_area"] = float("inf")
    frame.loc[1, "mean_radius"] = 150.0
    frame.loc[2, "mean_area"] = -5.0
    frame.loc[3, "mean_texture"] = "abc"
    frame.loc[4, ["mean_radius", "mean_area"]] = ["x", -1.0]  # two problems: the first column's is named
    frame.to_csv(garbage, index=False)

    proc = case.batch_predict(check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "mean_texture" in proc.stdout + proc.stderr, proc.stdout + proc.stderr

    failed = case.block("no-texture")
    assert failed["status"] == "failed"
    assert "has no column(s) ['mean_texture']" in failed["error"], failed["error"]
    assert case.stored_keys(failed["id"]) == (0, 0)
    for stem in (FIRST, SECOND, "garbage"):
        assert case.block(stem)["status"] == "done", case.block(stem)

    block = case.block("garbage")
    assert (block["rows_total"], block["rows_scored"], block["rows_rejected"]) == (6, 1, 5)
    stored = case.predictions(block["id"])
    assert [r if isinstance(r, str) else None for r in stored["rejected"]] == [
        "mean_area: infinite value",
        "mean_radius: 150 is above the maximum 100",
        "mean_area: -5 is below the minimum 0",
        "mean_texture: 'abc' is not a number",
        "mean_radius: 'x' is not a number",
        None,
    ]
    assert stored["prediction"].isna().tolist() == [True] * 5 + [False]


# --- 5: `airfoil predict` ----------------------------------------------------------------------------
def test_predict_file(case: Case, tmp_path: Path) -> None:
    champion = case.airfoil.champion(NAME)
    source = case.incoming / case.file(FIRST)
    out = tmp_path / "out" / "predictions.parquet"
    for attempt in range(2):
        proc = case.airfoil("predict", NAME, "--input", str(source), "--output", str(out), "--json")
        summary = json.loads(proc.stdout)
        assert {k: summary[k] for k in ("rows", "scored", "rejected", "model", "model_version")} == {
            "rows": 120,
            "scored": 117,
            "rejected": 3,
            "model": NAME,
            "model_version": champion,
        }, (attempt, summary)
        written = pq.read_table(out).to_pandas()
        assert written["row_index"].tolist() == list(range(120))
        assert written["row_id"].tolist() == pd.read_csv(source, dtype={"id": str})["id"].tolist()
        rejected = written[written["rejected"].notna()]
        assert dict(zip(rejected["row_index"], rejected["rejected"], strict=True)) == BAD_ROWS
        assert written["prediction"].notna().sum() == 117

        (entry,) = case.batches()
        stored = case.predictions(entry["id"])
        assert stored["row_id"].tolist() == written["row_id"].tolist()
        assert stored["prediction"].tolist() == written["prediction"].tolist()
        assert stored["probabilities"].tolist() == written["probabilities"].tolist()
        assert dict(stored[stored["rejected"].notna()][["row_index", "rejected"]].values.tolist()) == BAD_ROWS
        assert entry["kind"] == "file" and entry["status"] == "done"
        assert entry["source"] == str(source)
        assert (entry["rows_total"], entry["rows_scored"], entry["rows_rejected"]) == (120, 117, 3)
        assert case.stored_keys(entry["id"]) == (120, 120)

    # Without --output, a file this version scored already is not scored again.
    again = json.loads(case.airfoil("predict", NAME, "--input", str(source), "--json").stdout)
    assert (again["rows"], again["scored"], again["rejected"], again["resumed_at"]) == (120, 117, 3, 0)
    (unchanged,) = case.batches()
    assert unchanged["updated_at"] == entry["updated_at"]  # not started again
    assert case.stored_keys(unchanged["id"]) == (120, 120)


def test_predict_without_champion_fails_clearly(champions_registry: Airfoil, tmp_path: Path) -> None:
    source = str(INCOMING / f"{SECOND}.csv")
    store = f"sqlite:///{tmp_path / 'p.db'}"
    fresh = StoreAirfoil(home=tmp_path / "fresh", workdir=tmp_path, store_url=store)
    proc = fresh("predict", NAME, "--input", source, "--json", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert f"error: no registered model named '{NAME}'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr

    # Registered, but no version holds the champion alias (say, every candidate failed the gate).
    home = home_copy(champions_registry, tmp_path / "home")
    from airfoil.registry.client import client
    from airfoil.settings import load_settings

    client(load_settings({"AIRFOIL_HOME": str(home)})).delete_registered_model_alias(NAME, "champion")
    unpromoted = StoreAirfoil(home=home, workdir=tmp_path, store_url=store)
    proc = unpromoted("predict", NAME, "--input", source, "--json", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert f"error: model '{NAME}' has no champion to score with" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


# --- 6: a SQL query as input: one snapshot block; unchanged rows are not scored again ---------------------
def test_sql_input_scored_once(sqlite_case: Case, tmp_path: Path) -> None:
    case = sqlite_case
    db = tmp_path / "source.db"
    table = f"patients_{case.token}"
    engine = sa.create_engine(f"sqlite:///{db}")
    pd.read_csv(INCOMING / f"{SECOND}.csv").to_sql(table, engine, index=False)
    engine.dispose()
    case.set_batch(f'batch: {{input: {{sql: "select * from {table}", conn: "sqlite:///{db}"}}, key: id}}')

    proc = case.batch_predict()
    assert "batch: 1 new block(s) scored" in proc.stdout and "80 rows scored" in proc.stdout, proc.stdout
    with case.engine.connect() as conn:
        (block,) = [dict(r._mapping) for r in conn.execute(sa.text("select * from airfoil_batches"))]
    assert block["batch_key"].startswith("query-") and block["status"] == "done"
    assert block["rows_total"] == 80
    assert case.stored_keys(block["id"]) == (80, 80)

    proc = case.batch_predict()
    assert "batch: 0 new block(s) scored" in proc.stdout and "(1 scored before)" in proc.stdout, proc.stdout
    with case.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from airfoil_batches")).scalar() == 1
    assert case.stored_keys(block["id"]) == (80, 80)


def test_write_parquet_puts_every_row_next_to_its_input(sqlite_case: Case) -> None:
    case = sqlite_case
    case.set_batch('batch: {input: "incoming/*.csv", key: id, write_parquet: true}')
    proc = case.batch_predict()
    assert "batch: 2 new block(s) scored" in proc.stdout, proc.stdout

    first = pd.read_parquet(case.incoming / f"{case.file(FIRST)}.predictions.parquet")
    second = pd.read_parquet(case.incoming / f"{case.file(SECOND)}.predictions.parquet")
    assert (len(first), len(second)) == (120, 80)  # one row per input row, rejected ones included
    assert first["row_index"].tolist() == list(range(120))
    assert first["row_id"].tolist() == [str(i) for i in pd.read_csv(case.incoming / case.file(FIRST))["id"]]
    rejected = first[first["rejected"].notna()]
    assert dict(zip(rejected["row_index"], rejected["rejected"], strict=True)) == BAD_ROWS
    assert rejected["prediction"].isna().all() and first["prediction"].notna().sum() == 117
    # The file holds what the store holds.
    stored = case.predictions(case.block(FIRST)["id"])
    assert stored["prediction"].tolist() == first["prediction"].tolist()
    assert not list(case.incoming.glob("*.tmp")), "a finished output leaves no temporary file"
