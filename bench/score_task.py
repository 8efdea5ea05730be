"""Benchmark: a batch `score` task's cold start, the cost a cluster pays per block.

On a cluster every mapped `score` task is a new process. This measures, for one 200-row block, the
time from the process's start to its block scored and stored (for a block this small, the first
chunk is the whole block), the way a Celery worker's task process does it: a fresh interpreter that
calls `airfoil.steps.runner.run_step("airfoil.steps.batch:score", ...)`. Airflow's own task start
(the supervisor, the Task SDK) is the same on both sides and left out. Two sides, alternating,
N runs each, a new block file each run:

  card      the `champion` task's output as it is now: the version's card (artifact URIs with
            sha256, serving metadata, input example) and the spec's scoring fields: the model comes
            from the artifact store, and neither MLflow nor the spec's pydantic model is imported
  registry  the output as it was: the version number only, so the task reads the spec and looks the
            version up in MLflow (import, open the tracking store) before it loads it

Each side's median and the ratio are printed; the child reports whether MLflow was imported.
Target (issue 12): task start -> first chunk scored <= 0.5 s with the card.

Run: .venv/bin/python bench/score_task.py [--runs 7]. Results: bench/results/score_task.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
AIRFOIL = Path(sys.executable).parent / "airfoil"

CHILD = """
import json, os, sys, time
if os.environ.get("BENCH_TRACE_IMPORT"):  # who imports it first: a stack on stderr
    import traceback
    class Tracer:
        def find_spec(self, name, path=None, target=None):
            if name == os.environ["BENCH_TRACE_IMPORT"]:
                traceback.print_stack()
            return None
    sys.meta_path.insert(0, Tracer())
from airfoil.steps.context import RunInfo
from airfoil.steps.runner import run_step
args = json.loads(sys.argv[1])
run = RunInfo("breast_cancer__batch_predict", "bench", "score")
inputs = {"model": args["model"], "block": args["block"]}
out = run_step("airfoil.steps.batch:score", args["spec"], run, inputs)
left_out = ("mlflow", "sqlalchemy", "alembic", "pandas", "sklearn", "pydantic")
heavy = sorted(m for m in left_out if m in sys.modules)
print(json.dumps({"done_at": time.time(), "scored": out["scored"], "mlflow": "mlflow" in sys.modules,
                  "heavy": heavy}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="airfoil-bench-score-") as d:
        work = Path(d)
        shutil.copytree(ROOT / "examples" / "breast_cancer", work / "breast_cancer")
        spec = work / "breast_cancer" / "pipeline.yaml"
        env = {**os.environ, "AIRFOIL_HOME": str(work / "home"), "AIRFOIL_PIPELINES": str(spec),
               "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}  # fmt: skip
        print("training the champion (airfoil run --only prepare, --only train)", flush=True)
        for only in ("prepare", "train"):
            subprocess.run([str(AIRFOIL), "run", str(spec), "--only", only], env=env, check=True,
                           capture_output=True)  # fmt: skip
        os.environ.update(env)
        # A deployed worker has its modules' bytecode cached: the children may write it (this machine
        # sets PYTHONDONTWRITEBYTECODE=1, which would make every run compile airfoil's modules again),
        # and one unmeasured run per side writes it before the measured ones.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        from airfoil.steps.blocks import file_block
        from airfoil.steps.context import RunInfo
        from airfoil.steps.runner import run_step

        run = RunInfo("breast_cancer__batch_predict", "bench", "champion")
        pinned = run_step("airfoil.steps.batch:pin_champion", str(spec), run, {})
        assert pinned["card"] is not None
        sides = {"card": pinned, "registry": {"version": pinned["version"]}}
        source = (work / "breast_cancer" / "incoming" / "patients-2024-06-01.csv").read_text()
        seconds: dict[str, list[float]] = {side: [] for side in sides}
        imported: dict[str, bool] = {}
        heavy: dict[str, list[str]] = {}
        for i in range(-1, args.runs):  # -1: the warm-up run, not counted
            for side, model in sides.items():
                block = work / "blocks" / f"{side}-{i}.csv"
                block.parent.mkdir(exist_ok=True)
                block.write_text(source + f"{9_000_000 + i},{','.join(['1.0'] * 30)}\n")
                payload = json.dumps({"spec": str(spec), "model": model, "block": file_block(str(block))})
                started = time.time()
                trace = os.environ.get("BENCH_TRACE_IMPORT")  # e.g. pandas: its first import's stack
                err = None if trace else subprocess.PIPE
                out = subprocess.run([sys.executable, "-c", CHILD, payload], env=env, check=True, text=True,
                                     stdout=subprocess.PIPE, stderr=err)  # fmt: skip
                result = json.loads(out.stdout.strip().splitlines()[-1])
                if i < 0:
                    continue
                seconds[side].append(result["done_at"] - started)
                imported[side] = result["mlflow"]
                heavy[side] = result["heavy"]
        results = {
            side: {
                "median_s": round(statistics.median(v), 3),
                "runs_s": [round(x, 3) for x in v],
                "mlflow_imported": imported[side],
                "heavy_imports": heavy[side],
            }
            for side, v in seconds.items()
        }
        ratio = results["card"]["median_s"] / results["registry"]["median_s"]
        results["card_over_registry"] = round(ratio, 3)
    for side in sides:
        r = results[side]
        heavy = ", ".join(r["heavy_imports"]) or "no mlflow, pandas, sklearn, pydantic"
        print(f"  {side:9s} process start -> block scored: median {r['median_s']:.2f} s (imported: {heavy})")
    print(f"  card / registry: {ratio:.2f}; target with the card <= 0.5 s: "
          f"{'met' if results['card']['median_s'] <= 0.5 else 'NOT met'}")  # fmt: skip
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "score_task.json").write_text(json.dumps(results, indent=2))
    print(f"-> {RESULTS / 'score_task.json'}")


if __name__ == "__main__":
    main()
