"""The spec model used directly from Python (the same structure as pipeline.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from airfoil.errors import SpecError
from airfoil.spec.loader import parse_spec
from airfoil.spec.model import LOWER_IS_BETTER, PipelineSpec
from tests.unit.unit_support import spec_yaml

BASE = {
    "name": "demo",
    "task": "regression",
    "source": {"path": "/data/train.parquet"},
    "target": "y",
    "train": {"candidates": [{"estimator": "sklearn.linear_model.Ridge", "params": {"alpha": 1.0}}]},
}


def test_spec_built_in_python() -> None:
    spec = PipelineSpec.model_validate({**BASE, "validate": {"min_rows": 10}})
    assert spec.metric == "rmse"
    assert spec.validation.min_rows == 10
    assert spec.train.candidates[0].params == {"alpha": [1.0]}
    assert spec.base_dir is None


def test_spec_is_frozen() -> None:
    spec = PipelineSpec.model_validate(BASE)
    with pytest.raises(ValidationError):
        spec.name = "other"  # type: ignore[misc]


def test_candidates_must_not_be_empty() -> None:
    with pytest.raises(ValidationError, match="candidates"):
        PipelineSpec.model_validate({**BASE, "train": {"candidates": []}})


@pytest.mark.parametrize("cv", [1, 21])
def test_cv_out_of_range(cv: int) -> None:
    with pytest.raises(ValidationError, match="cv"):
        PipelineSpec.model_validate({**BASE, "train": {**BASE["train"], "cv": cv}})


def test_time_split_cannot_be_stratified() -> None:
    data = {**BASE, "task": "classification", "split": {"by": "date", "stratify": True}}
    data["train"] = {"candidates": [{"estimator": "sklearn.linear_model.LogisticRegression"}]}
    with pytest.raises(ValidationError, match="cannot also be stratified"):
        PipelineSpec.model_validate(data)


def test_lower_is_better_metrics() -> None:
    assert {"rmse", "mae", "log_loss"} == LOWER_IS_BETTER


def test_batch_input_is_a_path_or_a_query() -> None:
    from airfoil.spec.model import SqlSource

    files = parse_spec(spec_yaml(deploy={"batch": {"input": "incoming/*.csv"}}), base_dir=Path("/specs"))
    assert files.deploy.batch is not None and files.deploy.batch.input == "/specs/incoming/*.csv"
    sql = parse_spec(spec_yaml(deploy={"batch": {"input": {"sql": "select 1", "conn": "sqlite://"}}}))
    assert sql.deploy.batch is not None and isinstance(sql.deploy.batch.input, SqlSource)


def test_transient_mode_with_batch_is_refused_with_the_reason() -> None:
    with pytest.raises(SpecError, match="transient pipelines register none"):
        parse_spec(spec_yaml(deploy={"mode": "transient", "batch": {"input": "x.csv"}}))
