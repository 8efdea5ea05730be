"""Bad input: a clear message naming what to change, exit code 1, and the champion untouched."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.integration.conftest import Airfoil, home_copy

pytestmark = pytest.mark.integration

HEADER = (EXAMPLES / "breast_cancer/data/breast_cancer.csv").read_text().splitlines()[0]


def _header_only(data: Path) -> None:
    data.write_text(HEADER + "\n")


def _garbage_rows(data: Path) -> None:
    fields = HEADER.split(",")
    row = ["abc" if f == "mean_radius" else ("malignant" if f == "diagnosis" else "1") for f in fields]
    with data.open("a") as f:
        f.write(",".join(row) + "\n")


CASES = [
    pytest.param(
        {"task: classification": "task: [classification"}, None, "not valid YAML", id="malformed-yaml"
    ),
    pytest.param({"schedule:": "shedule:"}, None, "shedule (line 26): unknown field", id="unknown-field"),
    pytest.param(
        {"target: diagnosis": "target: outcome"},
        None,
        "the target column 'outcome' is not in the data",
        id="missing-target-column",
    ),
    pytest.param(
        {"sklearn.linear_model.LogisticRegression": "sklearn.linear_model.LogisticRegresion"},
        None,
        "'sklearn.linear_model.LogisticRegresion' does not exist in its module",
        id="unknown-estimator",
    ),
    pytest.param({"C: [0.1, 1, 10]": "Cee: [1]"}, None, "has no parameter(s) ['Cee']", id="unknown-param"),
    pytest.param({"data/breast_cancer.csv": "data/nope.csv"}, None, "matches no file", id="missing-source"),
    pytest.param({}, _header_only, "gave no rows after cleaning", id="empty-data"),
    pytest.param(
        {"mean_radius: {type: number, min: 0, max: 100": "mean_radius: {type: number, min: 0, max: 10"},
        None,
        "above max 10",
        id="validation-failure",
    ),
    pytest.param({}, _garbage_rows, "column 'mean_radius': expected number", id="garbage-rows"),
]


@pytest.fixture(scope="module")
def with_champion(champions_registry: Airfoil, tmp_path_factory: pytest.TempPathFactory) -> Airfoil:
    """One home where breast_cancer v1 is already champion: a copy of the session's shared registry
    (the example trained once per session), which these runs may change."""
    base = tmp_path_factory.mktemp("bad-input")
    airfoil = Airfoil(home=home_copy(champions_registry, base / "home"), workdir=base)
    assert airfoil.champion("breast_cancer") == 1
    return airfoil


@pytest.mark.parametrize(("replace", "mangle_data", "message"), CASES)
def test_bad_input_fails_clearly_and_keeps_the_champion(
    with_champion: Airfoil,
    tmp_path: Path,
    replace: dict[str, str],
    mangle_data: Callable[[Path], None] | None,
    message: str,
) -> None:
    folder = tmp_path / "breast_cancer"
    shutil.copytree(EXAMPLES / "breast_cancer", folder)
    spec = folder / "pipeline.yaml"
    text = spec.read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    spec.write_text(text)
    if mangle_data is not None:
        mangle_data(folder / "data" / "breast_cancer.csv")

    proc = with_champion("run", str(spec), check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert message in output, output
    assert "Traceback" not in output  # the error, not a wall of Airflow logs
    versions = with_champion.versions("breast_cancer")
    assert len(versions) == 1 and versions[0]["aliases"] == ["champion"]


def test_validate_command_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    spec = tmp_path / "pipeline.yaml"
    text = (EXAMPLES / "breast_cancer" / "pipeline.yaml").read_text()
    spec.write_text(text.replace("scale: standard", "scale: zscore").replace("cv: 5", "cv: 5\n  folds: 3"))
    airfoil = Airfoil(home=tmp_path / "home", workdir=tmp_path)
    proc = airfoil("validate", str(spec), check=False)
    assert proc.returncode == 1
    assert "prepare.scale (line 10)" in proc.stderr and "train.folds (line 22): unknown field" in proc.stderr
    ok = airfoil("validate", str(EXAMPLES / "cars" / "pipeline.yaml"))
    assert "ok:" in ok.stdout and "cars__prepare" in ok.stdout
