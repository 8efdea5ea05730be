"""The gate, promote by hand, rollback, and idempotent re-runs of the same DAG run.

Each test starts from a copy of the session's shared registry (`champions_registry`): breast_cancer
prepared and trained from its example, v1 champion; what the first run proves is checked in
test_pipeline_e2e.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import Airfoil, home_copy

pytestmark = pytest.mark.integration

# breast_cancer with one small candidate, fitted in this process: these tests are about the
# registry, not the search
SLIM = {
    "  cv: 5\n": "  cv: 2\n  n_jobs: 1\n",
    "    - {estimator: sklearn.ensemble.RandomForestClassifier, params: {n_estimators: [100], "
    "max_depth: [null, 8]}}\n": "",
}


def test_failed_gate_keeps_champion_then_promote_and_rollback(
    champions_registry: Airfoil, airfoil: Airfoil, example_copy
) -> None:
    home_copy(champions_registry, airfoil.home)
    assert airfoil.champion("breast_cancer") == 1

    strict = example_copy(
        "breast_cancer",
        {**SLIM, "gate: {min: {f1: 0.9, roc_auc: 0.95}": "gate: {min: {f1: 0.999, roc_auc: 0.95}"},
        dest_name="strict",
    )
    proc = airfoil("run", str(strict), "--only", "train")
    assert "registered breast_cancer v2" in proc.stdout
    assert "v2 did NOT become champion (champion stays v1)" in proc.stdout
    assert "test f1" in proc.stdout and "< min 0.999" in proc.stdout
    v2, v1 = airfoil.versions("breast_cancer")
    assert v2["version"] == 2 and v2["aliases"] == [] and v2["promoted"]["passed"] is False
    assert "< min 0.999" in v2["promoted"]["reason"]
    assert v1["aliases"] == ["champion"]

    # By hand: v2 becomes champion, rollback returns to v1, a second rollback has nowhere to go.
    proc = airfoil("models", "promote", "breast_cancer", "2")
    assert "champion is now v2 (was v1)" in proc.stdout
    assert airfoil.champion("breast_cancer") == 2
    proc = airfoil("models", "rollback", "breast_cancer")
    assert "rolled back to v1 (was v2)" in proc.stdout
    assert airfoil.champion("breast_cancer") == 1
    proc = airfoil("models", "rollback", "breast_cancer", check=False)
    assert proc.returncode == 1 and "nothing to roll back to" in proc.stderr
    assert airfoil.champion("breast_cancer") == 1

    proc = airfoil("models", "promote", "breast_cancer", "7", check=False)
    assert proc.returncode == 1 and "has no version 7" in proc.stderr
    proc = airfoil("models", "list", "nope", check=False)
    assert proc.returncode == 1 and "no registered model named 'nope'" in proc.stderr


def test_rerunning_the_same_dag_run_registers_no_second_version(
    champions_registry: Airfoil, airfoil: Airfoil, example_copy
) -> None:
    home_copy(champions_registry, airfoil.home)  # prepared, and v1 registered
    spec = str(example_copy("breast_cancer", SLIM))
    first = airfoil("run", spec, "--only", "train", "--logical-date", "2025-01-01T00:00:00")
    assert "registered breast_cancer v2" in first.stdout
    promoted = "v2 is now champion" in first.stdout
    again = airfoil("run", spec, "--only", "train", "--logical-date", "2025-01-01T00:00:00")
    assert "already registered by this DAG run" in again.stdout
    v2, v1 = airfoil.versions("breast_cancer")
    assert (v2["version"], v1["version"]) == (2, 1)
    # the re-run moved no alias either
    assert (v2["aliases"], v1["aliases"]) == ((["champion"], []) if promoted else ([], ["champion"]))
    # A new DAG run (another logical date) is a new version.
    airfoil("run", spec, "--only", "train", "--logical-date", "2025-01-02T00:00:00")
    assert [v["version"] for v in airfoil.versions("breast_cancer")] == [3, 2, 1]


def test_train_without_prepared_data_says_what_to_run(airfoil: Airfoil, examples: Path) -> None:
    proc = airfoil("run", str(examples / "breast_cancer" / "pipeline.yaml"), "--only", "train", check=False)
    assert proc.returncode == 1
    assert "task dataset:" in proc.stdout and "--only prepare" in proc.stdout
