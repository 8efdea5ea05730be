"""Loading pipeline.yaml: every error names the field and its line; examples load cleanly."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from airfoil.errors import SpecError
from airfoil.spec.loader import check_imports, load_spec, parse_spec
from airfoil.spec.model import FileSource
from tests.unit.unit_support import EXAMPLES, spec_yaml

GOOD = """\
name: demo
task: classification
source: {path: data.csv}
target: label
train:
  candidates:
    - {estimator: sklearn.linear_model.LogisticRegression, params: {C: [1]}}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(text, "pipeline.yaml")
    assert str(info.value).startswith("pipeline.yaml: the pipeline spec is not valid")
    return info.value.problems


BAD_SPECS = [
    pytest.param(
        "name: demo\n  task: classification\n", [r"line 2, column 7", r"not valid YAML"], id="malformed-yaml"
    ),
    pytest.param(
        GOOD + "prepare:\n  drop_dupes: true\n",
        [r"^prepare\.drop_dupes \(line 9\): unknown field"],
        id="unknown-field",
    ),
    pytest.param(
        GOOD.replace("{estimator:", "{estimater: x, estimator:"),
        [r"^train\.candidates\[0\]\.estimater \(line 7\): unknown field"],
        id="unknown-field-in-list",
    ),
    pytest.param(
        GOOD.replace("target: label\n", ""),
        [r"^target \(line \d+\): required field is missing"],
        id="no-target",
    ),
    pytest.param(
        GOOD.split("train:", maxsplit=1)[0],
        [r"^train \(line \d+\): required field is missing"],
        id="no-train",
    ),
    pytest.param(
        GOOD + "prepare:\n  scale: zscore\n",
        [r"^prepare\.scale \(line 9\): .*'standard', 'minmax', 'robust' or 'none'"],
        id="bad-enum",
    ),
    pytest.param(
        GOOD.replace("train:\n", "train:\n  metric: rmse\n"),
        [r"^train\.metric \(line \d+\): 'rmse' is not a classification metric; use one of \(.*'f1'"],
        id="metric-wrong-task",
    ),
    pytest.param(
        GOOD + "gate: {min: {r2: 0.5}}\n",
        [r"^gate\.min\.r2 \(line 8\): not a classification metric"],
        id="gate-metric-wrong-task",
    ),
    pytest.param(
        GOOD.replace("classification", "regression").replace("LogisticRegression", "Ridge")
        + "split: {stratify: true}\n",
        [r"^split\.stratify \(line 8\): only applies to classification"],
        id="stratify-regression",
    ),
    pytest.param(
        GOOD + "split: {test_after: '2024-01-01'}\n",
        [r"^split \(line 8\): `test_after` needs `by`"],
        id="test-after-without-by",
    ),
    pytest.param(
        GOOD.replace("sklearn.linear_model.LogisticRegression", "LogisticRegression"),
        [r"^train\.candidates\[0\]\.estimator \(line 7\): 'LogisticRegression' is not an import path"],
        id="estimator-not-import-path",
    ),
    pytest.param(
        GOOD + "prepare:\n  steps: [mypkg.clean.fix]\n",
        [r"^prepare\.steps \(line 9\): 'mypkg\.clean\.fix' is not of the form \"package\.module:function\""],
        id="custom-step-not-callable-path",
    ),
    pytest.param(
        GOOD + "prepare:\n  drop_columns: [id, label]\n",
        [r"^prepare\.drop_columns \(line 9\): drops the target 'label'"],
        id="drop-columns-drops-target",
    ),
    pytest.param(
        GOOD.replace("name: demo", "name: 1demo"),
        [r"^name \(line 1\): '1demo': use letters, digits and underscores"],
        id="bad-name",
    ),
    pytest.param(
        GOOD + "retries: 11\n", [r"^retries \(line 8\): .*less than or equal to 10"], id="retries-range"
    ),
    pytest.param("- a\n- b\n", [r"must be a YAML mapping"], id="list-not-mapping"),
    pytest.param("just a string\n", [r"must be a YAML mapping"], id="scalar-not-mapping"),
    pytest.param("", [r"must be a YAML mapping"], id="empty-file"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_SPECS)
def test_bad_spec_is_reported_with_field_and_line(text: str, expected: list[str]) -> None:
    problems = _problems(text)
    for pattern in expected:
        assert any(re.search(pattern, p) for p in problems), f"{pattern!r} not in {problems}"


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD + "prepare:\n  scale: zscore\n  encode: binary\nretries: -1\n"
    problems = _problems(text)
    fields = {p.split(" ")[0] for p in problems}
    assert {"prepare.scale", "prepare.encode", "retries"} <= fields


def test_metric_error_points_at_the_metric_line() -> None:
    problems = _problems(GOOD.replace("train:\n", "train:\n  metric: rmse\n"))
    assert any("(line 6)" in p for p in problems), problems


def test_typo_in_file_source_names_only_the_typo() -> None:
    problems = _problems(GOOD.replace("{path: data.csv}", "{path: data.csv, sep: ';'}"))
    assert problems == ["source.sep (line 3): unknown field; remove it or check its spelling"]


def test_unreadable_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read the file"):
        load_spec(tmp_path / "nope.yaml")


def test_relative_source_path_resolves_against_the_spec_folder(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pipeline.yaml").write_text(GOOD.replace("data.csv", "data/train.csv"))
    monkeypatch.chdir(tmp_path)  # a different working directory must not matter
    spec = load_spec("project/pipeline.yaml")
    assert isinstance(spec.source, FileSource)
    assert Path(spec.source.path) == (folder / "data" / "train.csv").resolve()
    assert spec.base_dir == str(folder.resolve())


@pytest.mark.parametrize("path", ["/abs/data.csv", "s3://bucket/data/*.parquet"])
def test_absolute_and_url_sources_are_kept(tmp_path: Path, path: str) -> None:
    spec = parse_spec(GOOD.replace("data.csv", path), base_dir=tmp_path)
    assert spec.source.path == path  # type: ignore[union-attr]


def test_sql_source() -> None:
    text = GOOD.replace("{path: data.csv}", "{sql: 'select * from t', conn: 'sqlite:///x.db'}")
    spec = parse_spec(text)
    assert spec.source.sql == "select * from t"  # type: ignore[union-attr]


def test_scalar_grid_value_becomes_one_element_list() -> None:
    spec = parse_spec(
        spec_yaml(
            train={"candidates": [{"estimator": "sklearn.svm.SVC", "params": {"C": 1, "kernel": "rbf"}}]}
        )
    )
    assert spec.train.candidates[0].params == {"C": [1], "kernel": ["rbf"]}


def test_defaults_and_selection_metric() -> None:
    spec = parse_spec(GOOD)
    assert spec.metric == "f1"
    assert spec.retries == 2
    assert spec.prepare.scale == "standard"
    regression = parse_spec(GOOD.replace("classification", "regression"))
    assert regression.metric == "rmse"


def test_validate_key_maps_to_validation_rules() -> None:
    spec = parse_spec(GOOD + "validate: {max_null_fraction: 0.1, columns: {x1: {min: 0}}}\n")
    assert spec.validation.max_null_fraction == 0.1
    assert spec.validation.columns["x1"].min == 0


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        (
            "sklearn.linear_model.NoSuchRegression",
            r"'sklearn\.linear_model\.NoSuchRegression' does not exist",
        ),
        ("nosuchpkg_airfoil.models.Thing", r"No module named 'nosuchpkg_airfoil'"),
    ],
)
def test_check_imports_names_what_cannot_be_imported(estimator: str, message: str) -> None:
    spec = parse_spec(GOOD.replace("sklearn.linear_model.LogisticRegression", estimator))
    with pytest.raises(SpecError) as info:
        check_imports(spec, "pipeline.yaml")
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("train.candidates[0].estimator:")
    assert re.search(message, info.value.problems[0])


def test_check_imports_reports_custom_steps_too() -> None:
    spec = parse_spec(GOOD + "prepare:\n  steps: ['nosuchmod_airfoil_x:fix']\n")
    with pytest.raises(SpecError) as info:
        check_imports(spec)
    assert info.value.problems[0].startswith("prepare.steps[0]:")
    assert "nosuchmod_airfoil_x" in info.value.problems[0]


def test_check_imports_finds_modules_next_to_the_spec(tmp_path: Path) -> None:
    (tmp_path / "airfoil_unit_local_steps.py").write_text("def fix(df):\n    return df\n")
    (tmp_path / "pipeline.yaml").write_text(GOOD + "prepare:\n  steps: ['airfoil_unit_local_steps:fix']\n")
    spec = load_spec(tmp_path / "pipeline.yaml")
    try:
        check_imports(spec)  # no error
    finally:
        sys.modules.pop("airfoil_unit_local_steps", None)
    assert str(tmp_path) not in sys.path  # the spec folder is only on sys.path while importing


@pytest.mark.parametrize("example", ["breast_cancer", "cars"])
def test_examples_load_and_import(example: str) -> None:
    path = EXAMPLES / example / "pipeline.yaml"
    spec = load_spec(path)
    check_imports(spec, str(path))
    assert spec.name == example
    assert Path(spec.source.path).is_file()  # type: ignore[union-attr]
