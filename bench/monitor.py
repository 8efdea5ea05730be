"""Benchmark: airfoil's monitor against Evidently's DataDriftPreset, side by side in one run.

1. **Drift on 1M scored rows x 20 features.** A reference of 100k rows (the train split) and 1M
   current rows, three features changed on purpose (f0 mean +0.5 sd, f1 sd x1.5, f2 mean +0.1 sd),
   17 unchanged. airfoil profiles the current rows in 100k-row chunks as scoring does (timed:
   that is what scoring adds), stores the profiles in a real prediction store, then runs the
   monitor's statistics: read the window's profiles, merge, test every feature (timed: the
   monitor run). Evidently 0.7.23 runs `Report([DataDriftPreset()])` on the raw Parquet rows in its
   own venv (bench/evidently_peer.py; it does not import with pandas 3). Printed: both times, the
   ratio (target >= 20x), and the per-feature decisions side by side with their agreement.
2. **Profiling overhead in batch scoring.** `score_source` (the engine of `<name>__batch_predict`
   and `airfoil predict`) on 1M rows through an ONNX model, with and without the model's reference
   (without one nothing is profiled), alternated, best of 5 each: rows/s and the slowdown (target <= 5%).
3. **Profiling overhead in the API.** `airfoil serve` (1 worker) on the breast_cancer champion with
   AIRFOIL_API_PROFILES on and off, alternated, 1-row requests from bench/serve.py's open-loop client
   at a fixed rate: p50 / p99 from the scheduled send (target: <= 0.1 ms added to p99).
4. **Detection power and false alarms** with the default decision (KS / chi-square, FDR, PSI floor):
   a 0.5 sd shift of one feature at windows of 1k / 10k / 100k rows, share of 50 windows flagged on
   that feature; 50 unchanged windows per size, share raising any alert.

Run: .venv/bin/python bench/monitor.py [--only drift|batch|api|power] [--skip-api] [--skip-evidently]
     [--rate 1000] [--duration 20]. BENCH_POLL_SECONDS=3600 switches the API's 2-second registry
     poll off in both arms (its tail cost is measured by bench/serve.py); BENCH_FLUSH_SECONDS sets
     AIRFOIL_MONITOR_FLUSH_SECONDS; BENCH_LOGS=DIR keeps the servers' logs.
Figures go to bench/results/monitor.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
FEATURES = 20
CHUNK = 100_000
SHIFTS = {"f0": ("mean", 0.5), "f1": ("scale", 1.5), "f2": ("mean", 0.1)}


def synthetic(rows: int, seed: int, shifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"f{i}": rng.normal(size=rows) for i in range(FEATURES)})
    if shifted:
        for name, (kind, amount) in SHIFTS.items():
            frame[name] = frame[name] * amount if kind == "scale" else frame[name] + amount
    return frame


def columns() -> list[dict[str, Any]]:
    return [{"name": f"f{i}", "type": "number", "nullable": True} for i in range(FEATURES)]


# --- 1. airfoil vs Evidently on 1M rows --------------------------------------------------------------
def drift_side_by_side(tmp: Path, rows: int, skip_evidently: bool) -> dict[str, Any]:
    from airfoil.monitor.check import check
    from airfoil.monitor.profile import Profile, merge
    from airfoil.monitor.reference import build_reference
    from airfoil.spec.monitor import Monitor
    from airfoil.store.db import PredictionStore
    from airfoil.store.monitoring import add_profile, stored_profiles

    reference_rows = synthetic(100_000, 1, shifted=False)
    current = synthetic(rows, 2, shifted=True)
    predictions = np.where(current["f0"] > 0, "yes", "no").astype(object)
    ref = build_reference(
        reference_rows, columns(), "classification", np.where(reference_rows["f0"] > 0, "yes", "no")
    )
    store = PredictionStore(f"sqlite:///{tmp / 'monitor.db'}")
    store.upgrade()
    t0 = time.perf_counter()
    chunk_profiles = []
    for start in range(0, rows, CHUNK):
        part = {c: current[c].to_numpy()[start : start + CHUNK] for c in current.columns}
        chunk_profiles.append(ref.profile_chunk(part, predictions[start : start + CHUNK]))
    profiling = time.perf_counter() - t0
    for i, p in enumerate(chunk_profiles):
        add_profile(
            store,
            {
                "pipeline": "bench",
                "profile_key": f"bench:{i}",
                "reference": "r" * 64,
                "model_version": 1,
                "source": "block",
                "batch_id": None,
                "rows": p.rows,
                "scored_at": time.time(),
                "profile": p.dumps(),
            },
        )
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        stored = stored_profiles(store, "bench", "r" * 64, None, time.time() + 1, version=1)
        merged = merge([Profile.from_json(j) for _, _, j in stored])
        ours = check(ref, merged, Monitor())
        runs.append(time.perf_counter() - t0)
    store.close()
    monitor_s = min(runs)
    out: dict[str, Any] = {
        "rows": rows,
        "reference_rows": len(reference_rows),
        "features": FEATURES,
        "airfoil": {
            "monitor_s": monitor_s,
            "profiling_s": profiling,
            "profiles": len(chunk_profiles),
            "drifted": ours["drifted_features"],
            "dataset_drift": ours["dataset_drift"],
        },
    }
    print(
        f"airfoil: profiling {rows:,} rows in {len(chunk_profiles)} chunks {profiling:.3f} s "
        f"(done while scoring); monitor run (read {len(chunk_profiles)} profiles, merge, test) "
        f"{monitor_s * 1000:.1f} ms; drifted {ours['drifted_features']}",
        flush=True,
    )
    if skip_evidently:
        return out
    sys.path.insert(0, str(ROOT / "bench"))
    from evidently_peer import run_evidently

    reference_rows.to_parquet(tmp / "reference.parquet")
    current.to_parquet(tmp / "current.parquet")
    print("Evidently DataDriftPreset on the raw rows (its own venv)...", flush=True)
    theirs = run_evidently(str(tmp / "reference.parquet"), str(tmp / "current.parquet"))
    decisions = {
        f["name"]: {
            "airfoil": f["drifted"],
            "airfoil_test": f"{f['test']} p={f['p_value']:.2g} psi={f['psi']:.3f}",
            "evidently": theirs["columns"][f["name"]]["drifted"],
            "evidently_test": f"{theirs['columns'][f['name']]['method']} "
            f"{theirs['columns'][f['name']]['score']:.3f}",
        }
        for f in ours["features"]
    }
    agree = sum(d["airfoil"] == d["evidently"] for d in decisions.values())
    out["evidently"] = {k: theirs[k] for k in ("seconds", "seconds_total", "dataset_drift", "drift_share")}
    out["evidently"]["version"] = theirs["evidently_version"]
    out["decisions"] = decisions
    out["agreement"] = agree / FEATURES
    out["ratio_monitor"] = theirs["seconds"] / monitor_s
    out["ratio_with_profiling"] = theirs["seconds"] / (monitor_s + profiling)
    print(f"\n{'feature':<8} {'airfoil':<34} {'evidently':<28} agree")
    for name, d in decisions.items():
        mark = "yes" if d["airfoil"] == d["evidently"] else "NO"
        a = ("DRIFT " if d["airfoil"] else "ok    ") + d["airfoil_test"]
        e = ("DRIFT " if d["evidently"] else "ok    ") + d["evidently_test"]
        print(f"{name:<8} {a:<34} {e:<28} {mark}")
    print(
        f"\nEvidently {theirs['seconds']:.2f} s (report run; {theirs['seconds_total']:.2f} s with reading) "
        "vs "
        f"airfoil monitor {monitor_s * 1000:.1f} ms: {out['ratio_monitor']:,.0f}x faster "
        f"({out['ratio_with_profiling']:,.0f}x counting the profiling done while scoring; target >= 20x); "
        f"decisions agree on {agree}/{FEATURES} features",
        flush=True,
    )
    return out


# --- 2. batch scoring with and without profiles -------------------------------------------------------
def batch_overhead(tmp: Path, rows: int) -> dict[str, Any]:
    import onnxruntime as ort
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.linear_model import LogisticRegression

    from airfoil.artifacts import onnx
    from airfoil.monitor.reference import build_reference, write_reference
    from airfoil.registry.loaded import LoadedModel
    from airfoil.spec.loader import parse_spec
    from airfoil.steps.model import build_pipeline
    from airfoil.steps.scoring import score_source
    from airfoil.store import BatchKind
    from airfoil.store.db import PredictionStore

    train = synthetic(20_000, 3, shifted=False)
    y = np.where(train["f0"] + train["f1"] > 0, "yes", "no")
    spec = parse_spec(
        json.dumps(
            {
                "name": "bench", "task": "classification", "source": {"path": "x.csv"}, "target": "y",
                "train": {"candidates": [{"estimator": "sklearn.linear_model.LogisticRegression"}]},
            }
        )
    )  # fmt: skip
    est = build_pipeline(spec, train, LogisticRegression(max_iter=500)).fit(train, y)
    graph, report = onnx.export(est, train.head(200))
    assert graph is not None and report["status"] == "verified", report
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
    uri = str(tmp / "reference.json")
    digest = write_reference(uri, build_reference(train, columns(), "classification", est.predict(train)))
    data = tmp / "score.parquet"
    current = synthetic(rows, 4, shifted=False)
    current["id"] = np.arange(rows)
    pq.write_table(pa.Table.from_pandas(current, preserve_index=False), data)

    def model(profiled: bool) -> LoadedModel:
        return LoadedModel(
            "bench", 1, "classification", columns(), ["no", "yes"], "onnx", {},
            reference=(uri, digest) if profiled else None, _session=session,
        )  # fmt: skip

    store = PredictionStore(f"sqlite:///{tmp / 'batch.db'}")
    store.upgrade()
    timings: dict[str, list[float]] = {"with": [], "without": []}
    for attempt in range(5):
        for label in ("without", "with"):
            t0 = time.perf_counter()
            out = score_source(
                store, model(label == "with"), pipeline="bench", kind=BatchKind.file,
                key=f"{label}-{attempt}", source=str(data), fingerprint="x", fmt="parquet",
                key_column="id", chunk_rows=CHUNK,
            )  # fmt: skip
            timings[label].append(time.perf_counter() - t0)
            assert out["scored"] == rows
    store.close()
    best = {k: rows / min(v) for k, v in timings.items()}
    slower = 1 - best["with"] / best["without"]
    print(
        f"batch scoring {rows:,} rows (ONNX, SQLite store), best of 5: {best['without']:,.0f} rows/s "
        f"without profiles, {best['with']:,.0f} with: {slower:+.1%} slower (target <= 5%)",
        flush=True,
    )
    return {"rows": rows, "rows_per_s": best, "slowdown": slower, "seconds": timings}


# --- 3. API p99 with and without profiles ---------------------------------------------------------------
def api_overhead(tmp: Path, rate: float, seconds: float) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "bench"))
    import serve

    home = tmp / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFOIL_", "AIRFLOW"))}
    env.update(AIRFOIL_HOME=str(home), AIRFOIL_API_TOKEN=secrets.token_hex(8), PYTHONWARNINGS="ignore")
    env.update(AIRFOIL_POLL_SECONDS=os.environ.get("BENCH_POLL_SECONDS", "2"))
    if os.environ.get("BENCH_FLUSH_SECONDS"):
        env["AIRFOIL_MONITOR_FLUSH_SECONDS"] = os.environ["BENCH_FLUSH_SECONDS"]
    print("training the breast_cancer champion for the API run...", flush=True)
    subprocess.run(
        [str(BIN / "airfoil"), "run", str(ROOT / "examples" / "breast_cancer" / "pipeline.yaml")],
        env=env, cwd=tmp, check=True, capture_output=True,
    )  # fmt: skip
    data = pd.read_csv(ROOT / "examples" / "breast_cancer" / "data" / "breast_cancer.csv")
    row = data.drop(columns=["diagnosis", "id"]).head(1)
    body = tmp / "one.json"
    body.write_text(
        json.dumps({"dataframe_split": {"columns": list(row.columns), "data": row.to_numpy().tolist()}})
    )
    args = SimpleNamespace(duration=seconds, pool=32)
    results: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    for attempt in range(3):
        for label in ("off", "on"):
            port = serve.free_port()
            run_env = {**env, "AIRFOIL_API_PROFILES": "1" if label == "on" else "0"}
            cmd = [str(BIN / "airfoil"), "serve", "--port", str(port)]
            log_to = Path(os.environ.get("BENCH_LOGS", tmp)) / f"api-{label}-{attempt}.log"
            server = serve.Server(f"airfoil serve profiles {label}", cmd, run_env, tmp, log_to)
            try:
                url = f"http://127.0.0.1:{port}/v1/models/breast_cancer/invocations"
                server.wait_ready(
                    lambda url=url: serve.post(url, body.read_bytes(), env["AIRFOIL_API_TOKEN"])[0] == 200
                )
                r = serve.open_loop(
                    port, "/v1/models/breast_cancer/invocations", body, env["AIRFOIL_API_TOKEN"], rate, args
                )
            finally:
                server.stop()
            results[label].append(r)
            print(
                f"  API profiles {label:>3} (round {attempt + 1}): {r['achieved_rps']:,.0f} req/s, "
                f"p50 {r['from_scheduled_ms']['50']:.3f} ms, p99 {r['from_scheduled_ms']['99']:.3f} ms",
                flush=True,
            )
    p99 = {k: float(np.median([r["from_scheduled_ms"]["99"] for r in v])) for k, v in results.items()}
    p50 = {k: float(np.median([r["from_scheduled_ms"]["50"] for r in v])) for k, v in results.items()}
    added = p99["on"] - p99["off"]
    print(
        f"API at {rate:,.0f} req/s, 1 worker: p99 {p99['off']:.3f} ms without profiles, {p99['on']:.3f} ms "
        f"with: {added:+.3f} ms (target <= +0.1 ms); p50 {p50['off']:.3f} -> {p50['on']:.3f} ms",
        flush=True,
    )
    return {"rate": rate, "p99_ms": p99, "p50_ms": p50, "added_p99_ms": added, "runs": results}


# --- 4. detection power and false alarms ---------------------------------------------------------------
def power(windows: int = 50) -> dict[str, Any]:
    from airfoil.monitor.check import check
    from airfoil.monitor.reference import build_reference
    from airfoil.spec.monitor import Monitor

    rng = np.random.default_rng(5)
    reference_rows = synthetic(10_000, 6, shifted=False)
    ref = build_reference(reference_rows, columns(), "regression", rng.normal(size=2_000))
    out: dict[str, Any] = {"reference_rows": len(reference_rows), "windows": windows}
    print(f"\ndetection (reference {len(reference_rows):,} rows x {FEATURES}, {windows} windows per cell):")
    for size in (1_000, 10_000, 100_000):
        found = alarms = 0
        for w in range(windows):
            values = {f"f{i}": rng.normal(size=size) for i in range(FEATURES)}
            clean = check(ref, ref.profile_chunk(values, rng.normal(size=size)), Monitor())
            alarms += clean["alert"]
            values["f0"] = values["f0"] + 0.5
            shifted = check(ref, ref.profile_chunk(values, rng.normal(size=size)), Monitor())
            found += "f0" in shifted["drifted_features"]
            del w
        out[str(size)] = {"detected": found / windows, "false_alarms": alarms / windows}
        print(
            f"  {size:>7,} rows: 0.5 sd shift flagged in {found / windows:.0%}; "
            f"unchanged windows alerting {alarms / windows:.0%}"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--only", choices=["drift", "batch", "api", "power"], help="run one part")
    parser.add_argument(
        "--rate", type=float, default=1500.0, help="API requests/s (about half of 1 worker's max)"
    )
    parser.add_argument("--duration", type=float, default=15.0)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="airfoil-bench-monitor-") as name:
        tmp = Path(name)
        if args.only in (None, "drift"):
            results["drift"] = drift_side_by_side(tmp, args.rows, args.skip_evidently)
        if args.only in (None, "batch"):
            results["batch"] = batch_overhead(tmp, args.rows)
        if args.only == "api" or (args.only is None and not args.skip_api):
            results["api"] = api_overhead(tmp, args.rate, args.duration)
        if args.only in (None, "power"):
            results["power"] = power()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("monitor.json" if args.only is None else f"monitor-{args.only}.json")
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nfigures: {out}")


if __name__ == "__main__":
    main()
