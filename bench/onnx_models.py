"""Benchmark: ONNX export per estimator family, and what the fast path buys at predict time.

Per family (scikit-learn's trees, ensembles and linear models, LightGBM and XGBoost when installed),
a small model behind airfoil's own preprocessing (impute, one-hot, scale) is trained on data the
repository ships, exported as at registration (`airfoil.artifacts.onnx.export`: conversion, ONNX
Runtime session, parity on the held-out rows) and then timed on the hot path serving and batch
scoring share, `LoadedModel.predict_arrays`, on both backends:

  scikit-learn   the fitted Pipeline: a DataFrame from the request's columns, predict (+ proba)
  onnxruntime    the verified graph: one [n, 1] array per column, one session run

1 row and 10,000 rows (the held-out rows drawn with replacement), one thread on both sides
(threadpoolctl for scikit-learn's OpenMP, intra_op_num_threads=1 for ONNX Runtime). The two sides
alternate, round after round; each figure is the best of the rounds (the machine is shared: the best
is the least disturbed). Printed: status, converter, max |Δ|, conversion seconds, both times and the
speedup (scikit-learn time / ONNX Runtime time).

Run: .venv/bin/python bench/onnx_models.py [--rounds 5] [--only hgb]. Results: bench/results/onnx.json.
(Not bench/onnx.py: a script of that name would shadow the `onnx` package it imports.)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
EXAMPLES = ROOT / "examples"
BIG = 10_000


def families() -> list[tuple[str, str, Any]]:
    """(label, data set, estimator) for every family the fast path covers."""
    from sklearn import ensemble as e
    from sklearn import linear_model as lm
    from sklearn import svm
    from sklearn.kernel_ridge import KernelRidge

    out: list[tuple[str, str, Any]] = [
        ("rf-reg", "cars", e.RandomForestRegressor(n_estimators=100, random_state=0)),
        ("et-reg", "cars", e.ExtraTreesRegressor(n_estimators=100, random_state=0)),
        ("gb-reg", "cars", e.GradientBoostingRegressor(random_state=0)),
        ("hgb-reg", "cars", e.HistGradientBoostingRegressor(random_state=0)),
        ("ridge", "cars", lm.Ridge()),
        ("linear", "cars", lm.LinearRegression()),
        ("elasticnet", "cars", lm.ElasticNet(alpha=0.01)),
        ("sgd-reg", "cars", lm.SGDRegressor(random_state=0)),
        ("linearsvr", "cars", svm.LinearSVR(random_state=0)),
        ("rf-bin", "breast_cancer", e.RandomForestClassifier(n_estimators=100, random_state=0)),
        ("gb-bin", "breast_cancer", e.GradientBoostingClassifier(random_state=0)),
        ("hgb-bin", "breast_cancer", e.HistGradientBoostingClassifier(random_state=0)),
        ("logreg-bin", "breast_cancer", lm.LogisticRegression(max_iter=5000)),
        ("linearsvc-bin", "breast_cancer", svm.LinearSVC(random_state=0)),
        ("et-multi", "iris", e.ExtraTreesClassifier(n_estimators=100, random_state=0)),
        ("hgb-multi", "iris", e.HistGradientBoostingClassifier(random_state=0)),
        ("logreg-multi", "iris", lm.LogisticRegression(max_iter=5000)),
        ("kernelridge (no converter)", "cars", KernelRidge(kernel="rbf", alpha=0.1, gamma=0.1)),
    ]
    if importlib.util.find_spec("lightgbm"):
        import lightgbm

        out += [
            ("lightgbm-reg", "cars", lightgbm.LGBMRegressor(verbose=-1, n_jobs=1)),
            ("lightgbm-bin", "breast_cancer", lightgbm.LGBMClassifier(verbose=-1, n_jobs=1)),
            ("lightgbm-multi", "iris", lightgbm.LGBMClassifier(verbose=-1, n_jobs=1)),
        ]
    if importlib.util.find_spec("xgboost") and importlib.util.find_spec("onnxmltools"):
        import xgboost

        out += [
            ("xgboost-reg", "cars", xgboost.XGBRegressor(n_jobs=1)),
            ("xgboost-multi", "iris", xgboost.XGBClassifier(n_jobs=1)),
        ]
    return out


def dataset(name: str) -> tuple[Any, str, str]:
    """(frame, task, target) of a data set the repository ships or scikit-learn bundles."""
    import pandas as pd

    if name == "cars":
        df = pd.read_csv(EXAMPLES / "cars" / "data" / "cars.csv").drop(columns=["Name"])
        df = df.dropna(subset=["Miles_per_Gallon"])
        return df.assign(Year=pd.to_datetime(df["Year"]).dt.year), "regression", "Miles_per_Gallon"
    if name == "breast_cancer":
        return (
            pd.read_csv(EXAMPLES / "breast_cancer" / "data" / "breast_cancer.csv"),
            "classification",
            "diagnosis",
        )
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).frame.rename(columns={"target": "species"}), "classification", "species"


def fitted(data: str, estimator: Any) -> tuple[Any, Any, str]:
    """airfoil's pipeline fitted on 80% of the rows; the held-out 20% back, and the task."""
    from airfoil.spec.loader import parse_spec
    from airfoil.steps.model import build_pipeline, feature_frame

    df, task, target = dataset(data)
    df = df.sample(frac=1.0, random_state=0)
    spec_text = json.dumps(
        {
            "name": "bench",
            "task": task,
            "source": {"path": "unused.csv"},
            "target": target,
            "train": {"candidates": [{"estimator": "sklearn.linear_model.Ridge"}]},
        }
    )
    spec = parse_spec(spec_text, str(ROOT / "bench" / "onnx.yaml"), base_dir=ROOT)
    X, y = feature_frame(df, spec), df[target]
    cut = int(len(df) * 0.8)
    return build_pipeline(spec, X, estimator).fit(X.iloc[:cut], y.iloc[:cut]), X.iloc[cut:], task


def loaded_pair(pipe: Any, X: Any, task: str, data: bytes | None) -> tuple[Any, Any]:
    """The same model as LoadedModel twice: on scikit-learn, and on ONNX Runtime (None if unverified)."""
    import onnxruntime as ort

    from airfoil.artifacts.onnx import input_schema
    from airfoil.registry.loaded import LoadedModel

    columns = input_schema(X, {})
    classes = [c.item() if hasattr(c, "item") else c for c in getattr(pipe, "classes_", [])]
    common = {
        "name": "bench",
        "version": 1,
        "task": task,
        "columns": columns,
        "classes": classes,
        "metrics": {},
    }
    sk = LoadedModel(**common, backend="sklearn", _model=pipe)
    if data is None:
        return sk, None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # as LoadedModel's loader sets it
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    return sk, LoadedModel(**common, backend="onnx", _session=session)


def per_call(model: Any, values: dict[str, list[Any]], calls: int) -> float:
    """Seconds per `predict_arrays` call, over `calls` calls."""
    started = time.perf_counter()
    for _ in range(calls):
        model.predict_arrays(values)
    return (time.perf_counter() - started) / calls


def timings(sk: Any, ox: Any, X: Any, rounds: int) -> dict[str, Any]:
    """Best-of-rounds seconds per call for 1 and 10,000 rows, the sides alternating each round."""
    from threadpoolctl import threadpool_limits

    # Limited here, when every OpenMP/BLAS library is loaded: a limit set earlier misses the ones
    # imported later (HistGradientBoosting would then spin two threads on a busy machine).
    with threadpool_limits(limits=1):
        return _timings(sk, ox, X, rounds)


def _timings(sk: Any, ox: Any, X: Any, rounds: int) -> dict[str, Any]:
    big = X.sample(n=BIG, replace=True, random_state=0)
    sizes = {
        "1": ({c: X[c].tolist()[:1] for c in X.columns}, 100),
        str(BIG): ({c: big[c].tolist() for c in X.columns}, 1),
    }
    out: dict[str, Any] = {}
    for size, (values, calls) in sizes.items():
        best = {"sklearn": float("inf"), "onnx": float("inf")}
        for _ in range(rounds):
            best["sklearn"] = min(best["sklearn"], per_call(sk, values, calls))
            if ox is not None:
                best["onnx"] = min(best["onnx"], per_call(ox, values, calls))
        out[size] = {
            "sklearn_s": best["sklearn"],
            "onnx_s": best["onnx"] if ox is not None else None,
            "speedup": best["sklearn"] / best["onnx"] if ox is not None else None,
        }
    return out


def run_family(label: str, data: str, estimator: Any, rounds: int) -> dict[str, Any]:
    from airfoil.artifacts.onnx import export

    pipe, X, task = fitted(data, estimator)
    started = time.perf_counter()
    onnx_bytes, report = export(pipe, X)
    seconds = time.perf_counter() - started
    verified = report["status"] == "verified"
    sk, ox = loaded_pair(pipe, X, task, onnx_bytes if verified else None)
    return {
        "family": label,
        "data": data,
        "estimator": report["estimator"],
        "status": report["status"],
        "converter": report["converter"],
        "max_diff": report.get("max_diff"),
        "reason": report.get("reason"),
        "convert_seconds": round(seconds, 3),
        "predict": timings(sk, ox, X, rounds),
    }


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:9.3f}"


def _x(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:7.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; the best is kept")
    parser.add_argument("--only", default="", help="families whose label contains this text")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from threadpoolctl import threadpool_limits

    rows: list[dict[str, Any]] = []
    with threadpool_limits(limits=1):
        for label, data, estimator in families():
            if args.only in label:
                rows.append(run_family(label, data, estimator, args.rounds))
                show(rows[-1])
                save(rows, args.rounds)  # after every family: a long run cut short keeps what it measured
    verified = [r for r in rows if r["status"] == "verified"]
    for size in ("1", str(BIG)):
        ratios = sorted(r["predict"][size]["speedup"] for r in verified)
        if ratios:
            print(
                f"ONNX Runtime vs scikit-learn, {int(size):,} row(s), {len(ratios)} verified families: "
                f"median {statistics.median(ratios):.1f}x (min {ratios[0]:.1f}x, max {ratios[-1]:.1f}x)"
            )
    print(f"results: {RESULTS / 'onnx.json'}")


def show(r: dict[str, Any]) -> None:
    """One family's line: status, converter, max |Δ|, conversion time, both predict times, speedups."""
    p = r["predict"]
    diff = "—" if r["max_diff"] is None else f"{r['max_diff']:.1e}"
    print(
        f"{r['family']:28s} {r['status']:11s} {r['converter']:11s} |Δ| {diff:>8s} "
        f"convert {r['convert_seconds']:6.2f}s | 1 row ms sk {_ms(p['1']['sklearn_s'])} "
        f"ort {_ms(p['1']['onnx_s'])} {_x(p['1']['speedup'])} | {BIG:,} rows ms "
        f"sk {_ms(p[str(BIG)]['sklearn_s'])} ort {_ms(p[str(BIG)]['onnx_s'])} {_x(p[str(BIG)]['speedup'])}",
        flush=True,
    )
    if r["status"] != "verified":
        print(f"{'':28s} reason: {r['reason']}", flush=True)


def save(rows: list[dict[str, Any]], rounds: int) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "rounds": rounds,
        "threads": 1,
        "families": rows,
    }
    (RESULTS / "onnx.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
