"""Run Evidently's data-drift report on two Parquet files, for benchmarks that compare it with ours.

Evidently 0.7.23 does not import with pandas 3, which is what airfoil's own venv has, so Evidently
cannot live in that venv. `run_evidently` therefore keeps a separate venv of its own under
`<workdir or tempfile.gettempdir()>/airfoil-bench-evidently/venv` (python3.11 -m venv, then
`pip install evidently==0.7.23 "pandas<3" pyarrow`; a marker file makes later calls skip the install)
and runs a small worker script in it as a subprocess. The worker reads both files with pandas, runs
`Report([DataDriftPreset()], include_tests=True)` with the columns declared through `DataDefinition`
(categorical ones as given, every other column numerical) and returns the figures as JSON.

Per-column drift decisions are read from Evidently's own output, not recomputed: with
include_tests=True every ValueDrift metric carries a test whose status is FAIL exactly when
`drift.drift_detected` (e.g. ks: `p_value <= threshold`, chisquare: `p_value < threshold`,
wasserstein / jensenshannon: `value >= threshold`), and DriftedColumnsCount carries the dataset-level
test `share < drift_share` (0.5), whose FAIL is Evidently's dataset_drift.

Run directly (`python bench/evidently_peer.py`) for a small synthetic example printed as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from peer_venv import peer_python

EVIDENTLY_VERSION = "0.7.23"
REQUIREMENTS = [f"evidently=={EVIDENTLY_VERSION}", "pandas<3", "pyarrow"]

WORKER = r"""
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report, __version__
from evidently.legacy.calculations.stattests.registry import _registered_stat_tests
from evidently.presets import DataDriftPreset

reference_path, current_path, categorical_json, out_path = sys.argv[1:5]
categorical = json.loads(categorical_json)
t0 = time.perf_counter()
reference = pd.read_parquet(reference_path)
current = pd.read_parquet(current_path)
numerical = [c for c in reference.columns if c not in categorical]
definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
cur = Dataset.from_pandas(current, data_definition=definition)
ref = Dataset.from_pandas(reference, data_definition=definition)
report = Report([DataDriftPreset()], include_tests=True)
t1 = time.perf_counter()
snapshot = report.run(cur, ref)
t2 = time.perf_counter()
out = snapshot.dict()

# ValueDrift's config holds the StatTest's display name ("K-S p_value"); map it to the short name ("ks").
short = {st.display_name: st.name for by_type in _registered_stat_tests.values() for st in by_type.values()}
status = {t["metric_config"]["metric_id"]: t["status"] for t in out["tests"]}
columns, count = {}, None
for m in out["metrics"]:
    cfg = m["config"]
    if cfg["type"].endswith(":DriftedColumnsCount"):
        count = m["value"]
        dataset_drift = status[m["id"]] == "FAIL"  # its test is share < drift_share
    elif cfg["type"].endswith(":ValueDrift"):
        columns[cfg["column"]] = {
            "drifted": status[m["id"]] == "FAIL",
            "method": short.get(cfg["method"], cfg["method"]),
            "score": float(m["value"]),
            "threshold": float(cfg["threshold"]),
        }
n_drifted = sum(c["drifted"] for c in columns.values())
assert count is not None and int(count["count"]) == n_drifted, (count, n_drifted)
result = {
    "seconds": t2 - t1,
    "seconds_total": t2 - t0,
    "dataset_drift": dataset_drift,
    "drift_share": float(count["share"]),
    "columns": columns,
    "evidently_version": __version__,
}
with open(out_path, "w") as f:
    json.dump(result, f)
"""


def run_evidently(
    reference: str,
    current: str,
    *,
    categorical: list[str] | None = None,
    workdir: str | None = None,
) -> dict[str, Any]:
    """Run Evidently's DataDriftPreset on two Parquet files with the same columns; return its figures.

    Returns {"seconds": report.run only, "seconds_total": reading the files, building the Datasets
    and report.run, "dataset_drift": bool, "drift_share": share of drifted columns, "columns":
    {name: {"drifted": bool, "method": Evidently's short name ("wasserstein", "ks", "jensenshannon",
    "chisquare", "z", ...), "score": float, "threshold": float}}, "evidently_version": str}.
    Columns in `categorical` are declared categorical, every other column numerical. The first call
    creates the venv (a minute or two); the worker's Python start and Evidently import (~5 s) are in
    no figure.
    """
    base = Path(workdir or tempfile.gettempdir()) / "airfoil-bench-evidently"
    python = peer_python(base, REQUIREMENTS, f"Evidently {EVIDENTLY_VERSION}")
    worker = base / "worker.py"
    worker.write_text(WORKER)
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        out = Path(tmp) / "result.json"
        cats = json.dumps(categorical or [])
        cmd = [str(python), str(worker), str(reference), str(current), cats, str(out)]
        env = {**os.environ, "DO_NOT_TRACK": "1"}  # no usage telemetry from Evidently
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"Evidently worker failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
    return result


def _example(directory: Path, rows: int = 5000, n_float: int = 5) -> tuple[Path, Path]:
    """Synthetic reference/current Parquet files: f0 shifted by 0.5 std, `cat` re-weighted."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)

    def frame(shift: float, weights: list[float]) -> pd.DataFrame:
        data = {f"f{i}": rng.normal(0.0, 1.0, rows) for i in range(n_float)}
        data["f0"] = data["f0"] + shift
        data["cat"] = rng.choice(["a", "b", "c"], size=rows, p=weights)
        return pd.DataFrame(data)

    reference, current = directory / "reference.parquet", directory / "current.parquet"
    frame(0.0, [0.5, 0.3, 0.2]).to_parquet(reference)
    frame(0.5, [0.45, 0.3, 0.25]).to_parquet(current)
    return reference, current


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        ref_path, cur_path = _example(Path(directory))
        print(json.dumps(run_evidently(str(ref_path), str(cur_path), categorical=["cat"]), indent=2))
