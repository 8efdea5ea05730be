"""Benchmark: batch scoring with `airfoil predict` versus a bare pyarrow + ONNX Runtime loop.

Trains the breast_cancer example in a fresh AIRFOIL_HOME (`airfoil run --only prepare`, then
`--only train`; the champion is a LogisticRegression served by ONNX), finds the champion's verified
ONNX file through MLflow (tag `serving_uri` -> serving.json -> `onnx.uri`, sha256-checked), and
generates synthetic Parquet inputs: an int64 `id` (the example's deploy.batch.key) and the 30
features, real rows resampled plus small gaussian noise, in row groups of 100,000 rows, cached in
/tmp/airfoil-bench-batch/data. Per size, each of three sides runs in its own subprocess (wall time
from process start to exit, peak RSS from os.wait4), with OMP/OPENBLAS/MKL_NUM_THREADS=1:

  bare          bench/bare_batch.py: ParquetFile(path, pre_buffer=False) row group by row group ->
                onnxruntime (1 intra-op thread) -> ParquetWriter. The anchor: the fast, flat-memory
                way to write it by hand.
  bare_default  the same loop with pyarrow's defaults, ParquetFile(path).iter_batches(100,000), for
                reference (pre-buffering keeps every row group read: memory grows with the file)
  airfoil       `airfoil predict breast_cancer --input FILE --json`: every row's label and class
                probabilities into the prediction store (a fresh SQLite file per run, copied from
                the correctness check's store so that its schema is in place)
  airfoil_pg    the same into PostgreSQL on 127.0.0.1:5432: a database per run, created from a template
                that has the store's schema and dropped afterwards (the bulk path: COPY into the table)

Each input is read once before its size (warm page cache); with --repeat N each side runs N times
per size in alternating order and the fastest run counts. Targets: airfoil rows/s >= 0.80 of bare's
at 1M rows and >= 0.90 at 16M, and airfoil's peak RSS growing by at most 10% from the smallest to
the largest size.
Correctness: on a 10,000-row sample the labels airfoil stored must equal bare's (and the
probabilities match); at every size the stored row and label counts must equal bare's. --profile
runs airfoil predict once more under cProfile on the smallest size (bench/results/batch-profile.*).
Figures go to bench/results/batch.json (--quick: batch-quick.json).

Run: .venv/bin/python bench/batch.py [--sizes 1000000,16000000] [--quick] [--repeat N]
     [--home DIR] [--profile] [--keep] [--no-pg]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
AIRFOIL = Path(sys.executable).parent / "airfoil"
BARE = ROOT / "bench" / "bare_batch.py"
EXAMPLE = ROOT / "examples" / "breast_cancer" / "pipeline.yaml"
DATA = ROOT / "examples" / "breast_cancer" / "data" / "breast_cancer.csv"
WORK = Path(tempfile.gettempdir()) / "airfoil-bench-batch"
NAME = "breast_cancer"
DEFAULT_SIZES = "1000000,16000000"
QUICK_SIZES = "100000,400000"
ROW_GROUP = 100_000  # rows per row group in the inputs, and the bare loop's batch size
CHECK_ROWS = 10_000
KEY = "id"  # the spec's deploy.batch.key: a unique row id, stored with each prediction
NOISE = 0.05  # gaussian noise, as a fraction of each column's standard deviation
TARGETS = {1_000_000: 0.80, 16_000_000: 0.90}  # airfoil rows/s over bare's, process start included
TARGET_RATIO = 0.80  # sizes without their own target
TARGET_RSS_GROWTH = 0.10
PG = "postgresql://postgres@127.0.0.1:5432"  # the PostgreSQL side's server (trust auth)
SIDES = {  # in running order (reversed on every other repeat)
    "bare": "ParquetFile(path, pre_buffer=False) row group by row group -> onnxruntime -> ParquetWriter",
    "bare_default": "the same with pyarrow defaults, ParquetFile(path).iter_batches() (reference)",
    "airfoil": "airfoil predict --json, into a fresh SQLite prediction store",
    "airfoil_pg": "airfoil predict --json, into a fresh PostgreSQL database (COPY into the table)",
}
BATCH_FIELDS = ("id", "status", "rows_total", "rows_scored", "rows_rejected", "chunks_done")


# --------------------------------------------------------------------------------------------- data


def make_data(path: Path, rows: int, seed: int) -> dict:
    """Synthetic Parquet input (cached): an `id` 1..n and the 30 features, real rows resampled plus
    small gaussian noise, clipped at 0."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists():
        meta = pq.ParquetFile(path)
        if meta.metadata.num_rows == rows and meta.schema_arrow.names[0] == KEY:
            return {"rows": rows, "bytes": path.stat().st_size, "cached": True, "seconds": 0.0}
    frame = pd.read_csv(DATA).drop(columns=["id", "diagnosis"])
    columns, X = [str(c) for c in frame.columns], frame.to_numpy(dtype="float64")
    scale = X.std(axis=0) * NOISE
    low = X.min(axis=0).clip(max=0)  # every feature is >= 0 in the real data: keep it so
    rng = np.random.default_rng(seed)
    schema = pa.schema([(KEY, pa.int64())] + [(c, pa.float64()) for c in columns])
    tmp = path.with_suffix(".tmp")
    t0 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(tmp, schema) as writer:
        for start in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - start)
            block = X[rng.integers(0, len(X), n)] + rng.standard_normal((n, X.shape[1])) * scale
            np.maximum(block, low, out=block)
            ids = pa.array(np.arange(start + 1, start + n + 1, dtype=np.int64))
            arrays = [ids] + [pa.array(block[:, i]) for i in range(len(columns))]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=ROW_GROUP)
    tmp.rename(path)
    return {"rows": rows, "bytes": path.stat().st_size, "cached": False, "seconds": time.perf_counter() - t0}


def warm(path: Path) -> float:
    """Read a file once so that every side starts from the page cache; seconds taken."""
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.read(16 << 20):
            pass
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------------------- registry


def train(home: Path, env: dict[str, str], work: Path) -> float:
    """`airfoil run --only prepare`, then `--only train`: the example's batch_predict DAG is not run."""
    t0 = time.perf_counter()
    for dag in ("prepare", "train"):
        print(f"airfoil run --only {dag} {EXAMPLE.relative_to(ROOT)} (AIRFOIL_HOME={home}) ...", flush=True)
        log = work / f"airfoil-run-{dag}.txt"
        with open(log, "w") as out:
            cmd = [str(AIRFOIL), "run", "--only", dag, str(EXAMPLE)]
            proc = subprocess.run(cmd, env=env, cwd=work, stdout=out, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            sys.stdout.write(log.read_text()[-4000:])
            raise SystemExit(f"airfoil run --only {dag} failed (exit {proc.returncode}); output above")
    return time.perf_counter() - t0


def champion(home: Path, work: Path) -> dict:
    """The champion's version, estimator, input columns, classes, and its ONNX file copied to `work`."""
    import hashlib

    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    import mlflow

    uri = f"sqlite:///{home / 'mlflow.db'}"
    c = mlflow.MlflowClient(uri, uri)
    version = (c.get_registered_model(NAME).aliases or {}).get("champion")
    if version is None:
        raise SystemExit(f"{NAME} has no champion in {home}")
    tags = c.get_model_version(NAME, str(version)).tags or {}
    if not tags.get("serving_uri"):
        raise SystemExit(f"{NAME} v{version} has no serving_uri tag (registered before serving metadata)")
    raw = Path(tags["serving_uri"].removeprefix("file://")).read_bytes()
    if hashlib.sha256(raw).hexdigest() != tags.get("serving_sha256"):
        raise SystemExit(f"{tags['serving_uri']} does not match its serving_sha256 tag")
    meta = json.loads(raw)
    report = meta["onnx"]
    if report.get("status") != "verified":
        raise SystemExit(f"{NAME} v{version}: ONNX export is {report.get('status')}, not verified")
    model = Path(report["uri"].removeprefix("file://")).read_bytes()
    if hashlib.sha256(model).hexdigest() != report["sha256"]:
        raise SystemExit(f"{report['uri']} does not match its recorded sha256")
    onnx_path = work / f"{NAME}-v{version}.onnx"
    onnx_path.write_bytes(model)
    estimator = tags.get("estimator", "?").rsplit(".", 1)[-1]
    columns = [col["name"] for col in meta["columns"]]
    champ = {"version": int(version), "estimator": estimator, "columns": columns, "classes": meta["classes"]}
    return champ | {"onnx_uri": report["uri"], "onnx_sha256": report["sha256"], "onnx_path": str(onnx_path)}


# ------------------------------------------------------------------------------------------ running


def measured(cmd: list[str], env: dict[str, str], cwd: Path, out: Path) -> dict:
    """Run `cmd` (stdout to `out`, stderr to out.err): wall seconds, peak RSS (MiB), CPU seconds, and
    the last JSON object it printed."""
    err = out.with_suffix(".err")
    with open(out, "w") as o, open(err, "w") as e:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=o, stderr=e)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    if (code := os.waitstatus_to_exitcode(status)) != 0:
        sys.stdout.write(out.read_text()[-3000:] + err.read_text()[-5000:])
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {code}; output above")
    said = [line for line in out.read_text().splitlines() if line.strip().startswith("{")]
    if not said:
        raise SystemExit(f"no JSON object in {out}:\n{out.read_text()[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "wall_s": wall,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "cpu_s": cpu,
        "reported": json.loads(said[-1]),
    }


def run_airfoil(
    data: Path, env: dict[str, str], work: Path, db: Path, label: str, prefix: tuple = ()
) -> dict:
    """`airfoil predict --json` into the SQLite store `db`, and what the store holds afterwards."""
    cmd = [*prefix, str(AIRFOIL), "predict", NAME, "--input", str(data), "--json"]
    r = measured(cmd, {**env, "AIRFOIL_STORE_URL": f"sqlite:///{db}"}, work, work / f"airfoil-{label}.txt")
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        batch = dict(con.execute("select * from airfoil_batches order by id desc limit 1").fetchone())
        counts = con.execute(
            "select prediction, count(*) from airfoil_predictions where batch_id = ? group by prediction",
            (batch["id"],),
        ).fetchall()
    counts = {str(k): int(n) for k, n in counts}
    batch = {k: batch[k] for k in BATCH_FIELDS}
    r["store"] = {
        "batch": batch,
        "rows": sum(counts.values()),
        "label_counts": counts,
        "db_bytes": db.stat().st_size,
    }
    return r


def pg_admin(sql: str) -> None:
    """One statement on the PostgreSQL server's `postgres` database, outside a transaction."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as con:
        con.execute(sql)


def run_airfoil_pg(data: Path, env: dict[str, str], work: Path, template: str, label: str) -> dict:
    """`airfoil predict --json` into a database copied from `template` (schema in place), counted,
    then dropped."""
    import psycopg

    db = f"airfoil_bench_{os.getpid()}_{label.replace('-', '_')}"
    pg_admin(f'CREATE DATABASE "{db}" TEMPLATE "{template}"')
    try:
        cmd = [str(AIRFOIL), "predict", NAME, "--input", str(data), "--json"]
        r = measured(cmd, {**env, "AIRFOIL_STORE_URL": f"{PG}/{db}"}, work, work / f"airfoil_pg-{label}.txt")
        with psycopg.connect(f"{PG}/{db}") as con:
            (bid,) = con.execute("select max(id) from airfoil_batches").fetchone()  # type: ignore[misc]
            counts = con.execute(
                "select prediction, count(*) from airfoil_predictions where batch_id = %s "
                "group by prediction",
                (bid,),
            ).fetchall()
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{db}"')
    label_counts = {str(k): int(n) for k, n in counts}
    r["store"] = {"rows": sum(label_counts.values()), "label_counts": label_counts}
    return r


def pg_template(data: Path, env: dict[str, str], work: Path) -> str:
    """A database with the store's schema (made by scoring `data` once), the PostgreSQL runs' template."""
    name = f"airfoil_bench_{os.getpid()}_template"
    pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
    pg_admin(f'CREATE DATABASE "{name}"')
    cmd = [str(AIRFOIL), "predict", NAME, "--input", str(data), "--json"]
    try:
        measured(cmd, {**env, "AIRFOIL_STORE_URL": f"{PG}/{name}"}, work, work / "airfoil_pg-template.txt")
    except BaseException:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
        raise
    import psycopg

    with psycopg.connect(f"{PG}/{name}", autocommit=True) as con:
        for table in ("airfoil_profiles", "airfoil_predictions", "airfoil_batches"):
            con.execute(f"delete from {table}")
    return name


def run_bare(
    data: Path, champ: dict, env: dict[str, str], work: Path, label: str, default: bool = False
) -> dict:
    """bench/bare_batch.py (--pyarrow-defaults if `default`), writing to r["output"]."""
    output = work / f"bare-{label}.parquet"
    cmd = [
        sys.executable,
        str(BARE),
        champ["onnx_path"],
        str(data),
        str(output),
        json.dumps(champ["classes"]),
    ]
    cmd += ["--batch-size", str(ROW_GROUP), *(["--pyarrow-defaults"] if default else [])]
    r = measured(cmd, env, work, work / f"bare-{label}.txt")
    return {**r, "label_counts": r["reported"]["label_counts"], "output": output}


def check_sample(db: Path, batch_id: int, bare_output: Path, classes: list) -> dict:
    """The labels, probabilities, row indexes and ids airfoil stored versus the bare loop's output."""
    import numpy as np
    import pyarrow.parquet as pq

    with sqlite3.connect(db) as con:
        stored = con.execute(
            "select row_index, prediction, probabilities, row_id from airfoil_predictions "
            "where batch_id = ? order by row_index",
            (batch_id,),
        ).fetchall()
    bare = pq.read_table(bare_output)
    labels = [str(x) for x in bare.column("label").to_pylist()]
    same = sum(str(s[1]) == want for s, want in zip(stored, labels, strict=False))
    diff = None
    if stored and stored[0][2] is not None and len(stored) == len(labels):
        got = np.array([[json.loads(s[2])[str(c)] for c in classes] for s in stored], dtype="float64")
        want = np.column_stack([bare.column(f"p_{c}").to_numpy() for c in classes])
        diff = float(np.abs(got - want).max())
    return {
        "stored_rows": len(stored),
        "bare_rows": len(labels),
        "same_labels": same,
        "labels_equal": len(stored) == len(labels) and same == len(labels),
        "row_index_contiguous": [s[0] for s in stored] == list(range(len(stored))),
        "row_ids_equal": [str(s[3]) for s in stored] == [str(x) for x in bare.column(KEY).to_pylist()],
        "max_abs_probability_diff": diff,
    }


def profile(data: Path, env: dict[str, str], work: Path, db: Path) -> dict:
    """airfoil predict under cProfile; the profile and its top functions go to bench/results."""
    prof, text = RESULTS / "batch-profile.prof", RESULTS / "batch-profile.txt"
    r = run_airfoil(data, env, work, db, "profile", (sys.executable, "-m", "cProfile", "-o", str(prof)))
    with open(text, "w") as f:
        stats = pstats.Stats(str(prof), stream=f).strip_dirs()
        f.write(f"airfoil predict {NAME} --input {data.name} under cProfile: {r['reported']}\n\n")
        f.write("=== by cumulative time ===\n")
        stats.sort_stats("cumulative").print_stats(45)
        f.write("=== by own (total) time ===\n")
        stats.sort_stats("tottime").print_stats(30)
    return {**r, "text": str(text.relative_to(ROOT)), "prof": str(prof.relative_to(ROOT))}


# ------------------------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated row counts")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: sizes {QUICK_SIZES}")
    parser.add_argument("--repeat", type=int, default=1, help="runs per side and size (the fastest counts)")
    parser.add_argument("--home", type=Path, help="reuse this AIRFOIL_HOME if it has a champion")
    parser.add_argument("--profile", action="store_true", help="profile airfoil predict on the smallest size")
    parser.add_argument("--keep", action="store_true", help="keep this run's home, stores and outputs")
    parser.add_argument("--no-pg", action="store_true", help="leave out the PostgreSQL side")
    args = parser.parse_args()
    sizes = sorted(int(s.replace("_", "")) for s in (QUICK_SIZES if args.quick else args.sizes).split(","))
    t_start, load_before = time.perf_counter(), os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (WORK / "data").mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=WORK))
    home = (args.home or run_dir / "home").resolve()

    # Disk: ~290 bytes/row per uncached input; the largest store (~120) and bare output (~40) per run.
    need = sum(n * 290 for n in sizes if not (WORK / "data" / f"bc-{n}.parquet").exists()) + max(sizes) * 160
    free = shutil.disk_usage(WORK).free
    print(f"disk: ~{need / 2**30:.1f} GiB needed, {free / 2**30:.1f} GiB free in {WORK}", flush=True)
    if need > free * 0.9:
        raise SystemExit("not enough disk space for these sizes")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRFOIL_", "MLFLOW_"))}
    env |= {"COLUMNS": "120", "AIRFOIL_HOME": str(home)}
    env |= {var: "1" for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

    sides, results = [s for s in SIDES if not (args.no_pg and s == "airfoil_pg")], {}
    pg_db = None
    try:
        trained = None
        if args.home and (home / "mlflow.db").exists():
            print(f"reusing registry in {home}", flush=True)
        else:
            trained = train(home, env, run_dir)
        champ = champion(home, run_dir)
        print(
            f"champion: {NAME} v{champ['version']} {champ['estimator']}, ONNX {champ['onnx_sha256'][:12]}, "
            f"{len(champ['columns'])} columns, classes {champ['classes']}",
            flush=True,
        )
        datasets = {}
        for n in [CHECK_ROWS, *sizes]:
            d = datasets[n] = make_data(WORK / "data" / f"bc-{n}.parquet", n, seed=n)
            how = "cached" if d["cached"] else f"generated in {d['seconds']:.1f} s"
            print(f"input {n:,} rows: {d['bytes'] / 2**20:,.0f} MiB, {how}", flush=True)

        # Correctness first. Its store is the template of the timed runs' stores (schema migrated, so
        # Alembic is not in the timed runs).
        stores = run_dir / "stores"
        stores.mkdir()
        template = stores / "check.db"
        sample = WORK / "data" / f"bc-{CHECK_ROWS}.parquet"
        a = run_airfoil(sample, env, run_dir, template, "check")
        b = run_bare(sample, champ, env, run_dir, "check")
        check = check_sample(template, a["store"]["batch"]["id"], b["output"], champ["classes"])
        with sqlite3.connect(template) as con:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(
            f"check, {CHECK_ROWS:,} rows: stored {check['stored_rows']:,}, bare {check['bare_rows']:,}, "
            f"same labels {check['same_labels']:,}, max |Δ probability| {check['max_abs_probability_diff']}",
            flush=True,
        )

        if "airfoil_pg" in sides:
            pg_db = pg_template(sample, env, run_dir)

        for n in sizes:
            data = WORK / "data" / f"bc-{n}.parquet"
            warmed = warm(data)
            tries: dict[str, list[dict]] = {side: [] for side in sides}
            for rep in range(args.repeat):
                print(f"{n:,} rows, run {rep + 1}/{args.repeat}:", end="", flush=True)
                for side in sides if rep % 2 == 0 else sides[::-1]:
                    label = f"{n}-{rep}-{side}"
                    if side == "airfoil":
                        # A fresh store per run: the same file again into the same store is a no-op.
                        db = stores / f"store-{label}.db"
                        shutil.copy(template, db)
                        r = run_airfoil(data, env, run_dir, db, label)
                        for suffix in ("", "-wal", "-shm"):
                            Path(f"{db}{suffix}").unlink(missing_ok=True)
                        if r["reported"].get("scored") != n:
                            raise SystemExit(f"airfoil predict scored {r['reported']} of {n:,} rows")
                    elif side == "airfoil_pg":
                        assert pg_db is not None
                        r = run_airfoil_pg(data, env, run_dir, pg_db, label)
                        if r["reported"].get("scored") != n:
                            raise SystemExit(f"airfoil predict (PostgreSQL) scored {r['reported']} of {n:,}")
                    else:
                        r = run_bare(data, champ, env, run_dir, label, default=side == "bare_default")
                        r.pop("output").unlink()
                    tries[side].append(r)
                    print(f" {side} {r['wall_s']:.1f} s {r['peak_rss_mib']:,.0f} MiB;", end="", flush=True)
                print(flush=True)
            want = min(tries["bare"], key=lambda r: r["wall_s"])["label_counts"]
            results[n] = {side: min(runs, key=lambda r: r["wall_s"]) for side, runs in tries.items()} | {
                "warm_read_s": warmed,
                "runs_wall_s_peak_rss_mib": {
                    k: [(r["wall_s"], r["peak_rss_mib"]) for r in v] for k, v in tries.items()
                },
                "same_label_counts": all(r["label_counts"] == want for r in tries["bare_default"])
                and all(
                    r["store"]["label_counts"] == want and r["store"]["rows"] == n
                    for side in ("airfoil", "airfoil_pg")
                    for r in tries.get(side, [])
                ),
            }
    except BaseException:
        print(f"\n(work files kept in {run_dir})")
        raise
    finally:
        if pg_db is not None:
            pg_admin(f'DROP DATABASE IF EXISTS "{pg_db}"')

    print(
        f"\nairfoil batch scoring: {NAME} v{champ['version']} ({champ['estimator']}, ONNX), "
        f"{len(champ['columns'])} float64 columns, row groups of {ROW_GROUP:,}; Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, 1 thread per side; best of {args.repeat}"
    )
    for side, text in SIDES.items():
        print(f"  {side:<12} {text}")
    print("rows/s = rows / wall seconds from process start to exit (interpreter, imports, model load in)")
    header = (
        f"{'rows':>11} | {'bare r/s':>9} | {'airfoil r/s':>11} {'ratio':>5} {'target':>6} | "
        f"{'airfoil_pg r/s':>14} {'ratio':>5} | {'bare_default r/s':>16} | "
        f"{'peak RSS MiB: bare':>18} {'airfoil':>7} {'airfoil_pg':>10} | store ok"
    )
    print(header + "\n" + "-" * len(header))
    summary = {}
    for n, r in results.items():
        rps = {side: n / r[side]["wall_s"] for side in sides}
        rss = {side: r[side]["peak_rss_mib"] for side in sides}
        target = TARGETS.get(n, TARGET_RATIO)
        s = summary[n] = {f"{side}_rows_s": rps[side] for side in sides} | {
            "ratio": rps["airfoil"] / rps["bare"],
            "target": target,
            "meets": rps["airfoil"] / rps["bare"] >= target,
            "ratio_vs_bare_default": rps["airfoil"] / rps["bare_default"],
            "airfoil_own_rows_s": n / r["airfoil"]["reported"]["seconds"],
        }
        if "airfoil_pg" in sides:
            s["ratio_pg"] = rps["airfoil_pg"] / rps["bare"]
        s |= {f"{side}_peak_rss_mib": rss[side] for side in sides}
        ok = "yes" if r["same_label_counts"] else "NO"
        pg = f"{'-':>14} {'-':>5}"
        if "airfoil_pg" in sides:
            pg = f"{rps['airfoil_pg']:>14,.0f} {s['ratio_pg']:>5.2f}"
        print(
            f"{n:>11,} | {rps['bare']:>9,.0f} | {rps['airfoil']:>11,.0f} {s['ratio']:>5.2f} {target:>6.2f} | "
            f"{pg} | {rps['bare_default']:>16,.0f} | {rss['bare']:>18,.0f} {rss['airfoil']:>7,.0f} "
            f"{rss.get('airfoil_pg', float('nan')):>10,.0f} | {ok}"
        )
    print("-" * len(header))
    print(
        "airfoil's own rows/s (its --json rows / seconds: timed from after its imports, so model load and "
        "the file's sha256 are in): "
        + ", ".join(f"{n:,} rows {s['airfoil_own_rows_s']:,.0f}" for n, s in summary.items())
    )
    # Between consecutive sizes: the streaming rate, the fixed costs per run (interpreter start, imports,
    # registry lookup, model load) taken out.
    marginal: dict = {}
    for lo, hi in itertools.pairwise(sizes):
        m = marginal[f"{lo}-{hi}"] = {}
        for side in sides:
            w0, w1 = results[lo][side]["wall_s"], results[hi][side]["wall_s"]
            rate = (hi - lo) / (w1 - w0) if w1 > w0 else float("nan")
            m[side] = {"rows_s": rate, "fixed_s": w0 - lo / rate}
        print(
            f"steady-state rows/s {lo:,} -> {hi:,} rows (fixed cost per run): "
            + "; ".join(f"{side} {m[side]['rows_s']:,.0f} ({m[side]['fixed_s']:.1f} s)" for side in sides)
            + f"; airfoil / bare {m['airfoil']['rows_s'] / m['bare']['rows_s']:.2f}"
        )

    small, large = sizes[0], sizes[-1]
    growth = {
        side: results[large][side]["peak_rss_mib"] / results[small][side]["peak_rss_mib"] - 1
        for side in sides
    }
    worst = min(s["ratio"] for s in summary.values())
    meets_ratio = all(s["meets"] for s in summary.values())
    meets_rss = growth["airfoil"] <= TARGET_RSS_GROWTH
    print()
    for n, s in summary.items():
        print(
            f"airfoil / bare rows/s at {n:,} rows: {s['ratio']:.2f} ({verdict(s['meets'])} target >= "
            f"{s['target']:.2f})" + (f"; PostgreSQL store {s['ratio_pg']:.2f}" if "ratio_pg" in s else "")
        )
    print(
        f"peak RSS {small:,} -> {large:,} rows: "
        + "; ".join(
            f"{side} {results[small][side]['peak_rss_mib']:,.0f} -> "
            f"{results[large][side]['peak_rss_mib']:,.0f} MiB {growth[side]:+.1%}"
            for side in sides
        )
        + f" (airfoil {verdict(meets_rss)} target <= +{TARGET_RSS_GROWTH:.0%})"
    )
    print(
        f"correctness, {CHECK_ROWS:,}-row sample: {check['same_labels']:,}/{check['bare_rows']:,} stored "
        f"labels equal bare's ({'yes' if check['labels_equal'] else 'NO'}); row_index 0..n-1: "
        f"{check['row_index_contiguous']}; row_id = input id: {check['row_ids_equal']}; every size's "
        f"stored rows and label counts equal bare's: {all(r['same_label_counts'] for r in results.values())}"
    )

    prof = None
    if args.profile:
        print(f"\nprofiling airfoil predict on {small:,} rows (cProfile) ...", flush=True)
        shutil.copy(template, stores / "profile.db")
        prof = profile(WORK / "data" / f"bc-{small}.parquet", env, run_dir, stores / "profile.db")
        print(f"  {prof['wall_s']:.1f} s under cProfile; top functions in {prof['text']}")

    seconds, load_after = time.perf_counter() - t_start, os.getloadavg()
    print(
        f"\nbenchmark took {seconds:.0f} s; 1-minute load average {load_before[0]:.2f} at start, "
        f"{load_after[0]:.2f} at end (above ~1 means other work shared the {os.cpu_count()} CPUs)"
    )
    out = {"benchmark": "batch", "python": platform.python_version(), "cpus": os.cpu_count(), "threads": 1}
    out |= {"sizes": sizes, "repeat": args.repeat, "row_group": ROW_GROUP, "noise_fraction_of_std": NOISE}
    out |= {
        "sides": SIDES,
        "targets": {"ratio_rows_s": TARGETS, "airfoil_rss_growth": TARGET_RSS_GROWTH},
    }
    out |= {"registry_build_s": trained, "champion": champ, "datasets": datasets, "check": check}
    out |= {"results": results, "summary": summary, "marginal": marginal, "rss_growth": growth}
    out |= {"lowest_ratio": worst, "meets_ratio": meets_ratio, "meets_rss": meets_rss, "profile": prof}
    out |= {"seconds": seconds, "loadavg_start_end": [load_before, load_after]}
    path = RESULTS / ("batch-quick.json" if args.quick else "batch.json")
    path.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"figures written to {path.relative_to(ROOT)}")
    if args.keep:
        print(f"kept {run_dir}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
