"""Benchmark: what the model report and the Models view cost, each beside what is already paid.

1. training: `steps.diagnostics` (curves + permutation importance) on the 200k-row churn table of
   bench/pipeline.py, beside fitting the same chosen model once (the anchor: what the train DAG
   already pays per candidate and CV fold).
2. the report: `airfoil report` of breast_cancer with 100 monitor windows, in-process (gather +
   render) and as a command (process start included), beside `airfoil models list` (the anchor:
   the cheapest registry command); its size.
3. the plugin: importing `airfoil.airflow.plugin` in a fresh interpreter, beside Airflow's own
   `plugins_manager` loading every plugin (the anchor: what every scheduler pays already).

Run: .venv/bin/python bench/report.py [--rows 200000]. Figures go to bench/results/report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
AIRFOIL = Path(sys.executable).parent / "airfoil"


def training(rows: int, tmp: Path) -> dict:
    import pandas as pd
    from bench.pipeline import SPEC, make_data
    from sklearn.model_selection import train_test_split

    from airfoil.spec.loader import parse_spec
    from airfoil.steps.diagnostics import diagnostics
    from airfoil.steps.model import build_pipeline, feature_frame, make_estimator

    data = tmp / "data" / "churn.parquet"
    make_data(data, rows)
    spec = parse_spec(SPEC, str(tmp / "pipeline.yaml"), base_dir=tmp)
    df = pd.read_parquet(data)
    train, test = train_test_split(df, test_size=0.2, random_state=42, stratify=df[spec.target])
    X, y = feature_frame(train, spec), train[spec.target]
    Xt, yt = feature_frame(test, spec), test[spec.target]
    out = {}
    for index, label in ((0, "LogisticRegression"), (1, "HistGradientBoosting")):
        model = build_pipeline(spec, X, make_estimator(spec, index))
        t = time.perf_counter()
        model.fit(X, y)
        fit = time.perf_counter() - t
        t = time.perf_counter()
        d = diagnostics(spec, model, Xt, yt)
        diag = time.perf_counter() - t
        out[label] = {"fit_s": round(fit, 3), "diagnostics_s": round(diag, 3), "ratio": round(diag / fit, 3)}
        print(f"  {label:22s} fit {fit:6.2f} s   diagnostics {diag:5.2f} s   ratio {diag / fit:.2f}")
        assert d["importance"]["features"]
    return {"rows": rows, "test_rows": len(Xt), **out}


def report(tmp: Path) -> dict:
    from airfoil.report import build_report
    from airfoil.settings import load_settings
    from airfoil.store import open_store
    from airfoil.store.monitoring import monitor_history, save_monitor_run

    home = tmp / "home"
    env = {**os.environ, "AIRFOIL_HOME": str(home), "PYTHONWARNINGS": "ignore"}
    subprocess.run(
        [str(AIRFOIL), "run", str(ROOT / "examples/breast_cancer/pipeline.yaml")],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    settings = load_settings({"AIRFOIL_HOME": str(home)})
    store = open_store(settings)
    last = monitor_history(store, "breast_cancer", 1, limit=1)[0]
    for i in range(99):  # 100 windows: the real verdict, in its own later window
        verdict = {**last, "window": {**last["window"], "end_s": last["window"]["end_s"] + 86400 * (i + 1)}}
        save_monitor_run(store, "breast_cancer", f"bench-{i}", verdict)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        _, html = build_report(settings, "breast_cancer")
        times.append(time.perf_counter() - t)

    def command(*args: str) -> float:
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run([str(AIRFOIL), *args], env=env, check=True, capture_output=True)
            runs.append(time.perf_counter() - t)
        return statistics.median(runs)

    cli = command("report", "breast_cancer", "--output", str(tmp / "r.html"))
    anchor = command("models", "list", "breast_cancer")
    out = {
        "windows": 100,
        "bytes": len(html.encode()),
        "in_process_s": round(statistics.median(times), 4),
        "cli_s": round(cli, 3),
        "models_list_cli_s": round(anchor, 3),
        "cli_ratio": round(cli / anchor, 3),
    }
    print(
        f"  report with 100 windows: {out['bytes'] / 1024:.0f} KB, {out['in_process_s'] * 1000:.0f} ms "
        f"in-process; `airfoil report` {cli:.2f} s vs `airfoil models list` {anchor:.2f} s "
        f"(ratio {cli / anchor:.2f})"
    )
    return out


def plugin() -> dict:
    code = (
        "import time, json; t0 = time.perf_counter(); from airflow import plugins_manager as pm;"
        "t1 = time.perf_counter(); import airfoil.airflow.plugin;"
        "t2 = time.perf_counter(); pm._get_plugins(); t3 = time.perf_counter();"
        "print(json.dumps({'airflow_import_s': t1 - t0, 'airfoil_plugin_s': t2 - t1,"
        "'all_plugins_s': t3 - t2}))"
    )
    runs = [
        json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                   .stdout.strip().splitlines()[-1])
        for _ in range(5)
    ]  # fmt: skip
    out = {k: round(statistics.median(r[k] for r in runs), 4) for k in runs[0]}
    out["ratio"] = round(out["airfoil_plugin_s"] / out["all_plugins_s"], 3)
    print(
        f"  import airfoil.airflow.plugin {out['airfoil_plugin_s'] * 1000:.1f} ms vs Airflow loading every "
        f"plugin {out['all_plugins_s'] * 1000:.0f} ms (ratio {out['ratio']:.3f})"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="airfoil-bench-report-") as d:
        tmp = Path(d)
        print("training: diagnostics beside one fit of the chosen model")
        results = {"training": training(args.rows, tmp)}
        print("report")
        results["report"] = report(tmp)
        print("plugin")
        results["plugin"] = plugin()
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "report.json").write_text(json.dumps(results, indent=2))
    print(f"-> {RESULTS / 'report.json'}")


if __name__ == "__main__":
    main()
