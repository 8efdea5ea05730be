"""Benchmark: parse time of airfoil's DAG-folder file versus a bare `import airflow.sdk`.

Airflow re-parses every file in the DAG folder continuously, so the DAG file must stay close to
the cost of importing the Task SDK itself. This script builds a temporary folder of several
pipeline specs (copies of the two examples under different names), then measures, each time in a
fresh interpreter and alternating between the two:

  (a) `import airflow.sdk`
  (b) `runpy.run_path("dags/airfoil_dags.py")` (imports airflow.sdk itself and renders every DAG)

It reports median and min of each, the ratio of medians (target <= 1.3), the number of DAGs
rendered, and which heavy modules (pandas, sklearn, mlflow, polars, pyarrow) were imported by the
parse (there should be none). Figures also go to bench/results/parse.json.

Run: .venv/bin/python bench/parse.py [--reps 9] [--copies 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from airfoil.plan import build_plans
from airfoil.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
DAG_FILE = ROOT / "dags" / "airfoil_dags.py"
EXAMPLES = [ROOT / "examples" / "breast_cancer", ROOT / "examples" / "cars"]
RESULTS = ROOT / "bench" / "results"
HEAVY = ("pandas", "sklearn", "mlflow", "polars", "pyarrow")
TARGET = 1.3

IMPORT_SDK = """
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0}))
"""

PARSE_DAG_FILE = f"""
import json, runpy, sys, time
t0 = time.perf_counter()
namespace = runpy.run_path(sys.argv[1])
t1 = time.perf_counter()
from airflow.sdk import DAG
dags = sorted(k for k, v in namespace.items() if isinstance(v, DAG))
heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
print(json.dumps({{"seconds": t1 - t0, "dags": dags, "heavy": heavy, "modules": len(sys.modules)}}))
"""


def make_pipelines(folder: Path, copies: int) -> list[str]:
    """`copies` renamed copies of each example (spec + data + custom step module); their names."""
    names = []
    for example in EXAMPLES:
        for i in range(copies):
            name = f"{example.name}_{i + 1}"
            dest = folder / name
            shutil.copytree(example, dest, ignore=shutil.ignore_patterns("__pycache__"))
            spec = dest / "pipeline.yaml"
            text, n = re.subn(r"^name: .*$", f"name: {name}", spec.read_text(), count=1, flags=re.M)
            if n != 1:
                raise SystemExit(f"{spec}: no top-level `name:` line to rename")
            spec.write_text(text)
            names.append(name)
    return names


def measure(code: str, env: dict[str, str], *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"measurement failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=9, help="timed runs of each side (>= 7)")
    parser.add_argument("--copies", type=int, default=3, help="copies of each example pipeline")
    args = parser.parse_args()
    reps = max(args.reps, 7)

    with tempfile.TemporaryDirectory(prefix="airfoil-bench-parse-") as tmp:
        tmp_path = Path(tmp)
        pipelines = tmp_path / "pipelines"
        pipelines.mkdir()
        names = make_pipelines(pipelines, args.copies)
        expected = sorted(
            plan.dag_id
            for spec in pipelines.glob("*/pipeline.yaml")
            for plan in build_plans(load_spec(spec), str(spec))
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRFOIL_"))}
        # Same environment for both sides: Airflow's home and airfoil's home in the temp dir.
        env.update(
            AIRFOIL_PIPELINES=str(pipelines),
            AIRFOIL_HOME=str(tmp_path / "home"),
            AIRFLOW_HOME=str(tmp_path / "airflow"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)

        # One untimed run of each: warms the OS file cache and writes any .pyc / airflow.cfg.
        measure(IMPORT_SDK, env)
        warm = measure(PARSE_DAG_FILE, env, str(DAG_FILE))

        sdk_times: list[float] = []
        dag_times: list[float] = []
        last = warm
        for i in range(reps):
            print(f"\rrun {i + 1}/{reps}", end="", file=sys.stderr, flush=True)
            sdk_times.append(measure(IMPORT_SDK, env)["seconds"])
            last = measure(PARSE_DAG_FILE, env, str(DAG_FILE))
            dag_times.append(last["seconds"])
        print("\r" + " " * 20 + "\r", end="", file=sys.stderr)

    sdk_med, dag_med = statistics.median(sdk_times), statistics.median(dag_times)
    ratio = dag_med / sdk_med
    dags, heavy = last["dags"], last["heavy"]

    print(
        f"airfoil DAG-folder parse benchmark: {len(names)} pipelines in the folder "
        f"({', '.join(names)}), {reps} fresh interpreters per side, alternating\n"
    )
    header = f"{'measurement':<42} {'median s':>9} {'min s':>8} {'max s':>8}"
    print(header)
    print("-" * len(header))
    for label, times in (
        ("(a) import airflow.sdk", sdk_times),
        (f"(b) run dags/airfoil_dags.py ({len(dags)} DAGs)", dag_times),
    ):
        print(f"{label:<42} {statistics.median(times):>9.3f} {min(times):>8.3f} {max(times):>8.3f}")
    print("-" * len(header))
    print(f"{'(b) - (a), medians: airfoil work':<42} {dag_med - sdk_med:>9.3f}")
    print()
    mismatch = "" if dags == expected else f"; DIFFERENT from the plans: {expected}"
    print(f"DAGs rendered: {len(dags)} (the plans have {len(expected)}{mismatch}): {', '.join(dags)}")
    print(f"modules loaded after parsing: {last['modules']}")
    if heavy:
        print(f"HEAVY MODULES IMPORTED AT PARSE TIME: {', '.join(heavy)}  <-- violates the import rule")
    else:
        print(f"heavy modules after parsing: none of {', '.join(HEAVY)} (OK)")
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(f"\nratio parse/import (medians): {ratio:.2f}x  ({verdict} target <= {TARGET})")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "benchmark": "parse",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "pipelines": names,
        "reps": reps,
        "import_airflow_sdk_s": {"median": sdk_med, "min": min(sdk_times), "all": sdk_times},
        "parse_dag_file_s": {"median": dag_med, "min": min(dag_times), "all": dag_times},
        "ratio_medians": ratio,
        "target": TARGET,
        "dags_rendered": len(dags),
        "dag_ids": dags,
        "heavy_modules_after_parse": heavy,
        "modules_after_parse": last["modules"],
    }
    path = RESULTS / "parse.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"figures written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
