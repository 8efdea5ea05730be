"""prepare.extract (read + row-level cleaning) and prepare.split (train/test with a fingerprint)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airfoil.artifacts import io
from airfoil.errors import DataError
from airfoil.spec.loader import load_spec
from airfoil.steps.prepare import extract, split
from airfoil.steps.train import latest_dataset
from tests.unit.unit_support import EXAMPLES, classification_frame, regression_frame

REGRESSION = {
    "task": "regression",
    "target": "y",
    "train": {"candidates": [{"estimator": "sklearn.linear_model.Ridge", "params": {}}]},
}


def test_extract_writes_parquet_and_reports_rows(make_spec, make_ctx, write_csv) -> None:
    df = classification_frame(20)
    df["id"] = range(20)
    write_csv(pd.concat([df, df.head(3)], ignore_index=True))
    spec = make_spec(prepare={"drop_duplicates": True, "drop_columns": ["id"]})
    out = extract(make_ctx(spec))
    assert out["rows_in"] == 23
    assert out["rows"] == 20  # the three duplicates are gone
    assert out["columns"] == ["x1", "x2", "color", "label"]
    stored = io.read_parquet(out)
    assert len(stored) == 20
    assert "id" not in stored.columns
    assert out["uri"].endswith(
        "/demo/runs/demo__prepare/manual__2024-01-01T00_00_00/extract/extracted.parquet"
    )


def test_extract_is_idempotent(make_spec, make_ctx, write_csv) -> None:
    write_csv(classification_frame(20))
    ctx = make_ctx(make_spec())
    first, second = extract(ctx), extract(ctx)
    assert first == second


def test_duplicates_kept_unless_asked(make_spec, make_ctx, write_csv) -> None:
    df = classification_frame(10)
    write_csv(pd.concat([df, df], ignore_index=True))
    assert extract(make_ctx(make_spec()))["rows"] == 20


def test_missing_target_names_the_available_columns(make_spec, make_ctx, write_csv) -> None:
    write_csv(classification_frame(10).rename(columns={"label": "Label"}))
    with pytest.raises(
        DataError,
        match=r"target column 'label' is not in the data; columns are \['x1', 'x2', 'color', 'Label'\]",
    ):
        extract(make_ctx(make_spec()))


def test_drop_columns_with_unknown_column(make_spec, make_ctx, write_csv) -> None:
    write_csv(classification_frame(10))
    with pytest.raises(DataError, match=r"drop_columns names \['idd'\], not in the data; columns are \['x1'"):
        extract(make_ctx(make_spec(prepare={"drop_columns": ["idd"]})))


def test_missing_source_file(make_spec, make_ctx) -> None:
    with pytest.raises(DataError, match="matches no file"):
        extract(make_ctx(make_spec()))


def test_glob_source_reads_every_file(make_spec, make_ctx, write_csv) -> None:
    df = classification_frame(20)
    write_csv(df.iloc[:12], "part1.csv")
    write_csv(df.iloc[12:], "part2.csv")
    out = extract(make_ctx(make_spec(source={"path": "part*.csv"})))
    assert out["rows"] == 20


def test_empty_data_is_an_error(make_spec, make_ctx, write_csv) -> None:
    write_csv(classification_frame(5).iloc[0:0])
    with pytest.raises(DataError, match="no rows"):
        extract(make_ctx(make_spec()))


def _module(tmp_path: Path, name: str, body: str) -> str:
    # Unique module names per test: sys.modules is shared by every test in the process.
    (tmp_path / f"{name}.py").write_text("import pandas as pd\n\n\n" + body)
    return name


@pytest.fixture
def forget_modules():
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("airfoil_unit_"):
            del sys.modules[name]


def test_custom_step_next_to_the_spec_is_applied(
    tmp_path, make_spec, make_ctx, write_csv, forget_modules
) -> None:
    mod = _module(tmp_path, "airfoil_unit_steps_ok", "def positive(df):\n    return df[df['x1'] > 0]\n")
    df = classification_frame(40)
    write_csv(df)
    out = extract(make_ctx(make_spec(prepare={"steps": [f"{mod}:positive"]})))
    stored = io.read_parquet(out)
    assert out["rows"] == int((df["x1"] > 0).sum())
    assert (stored["x1"] > 0).all()
    assert list(stored.index) == list(range(len(stored)))


def test_custom_step_returning_non_dataframe(
    tmp_path, make_spec, make_ctx, write_csv, forget_modules
) -> None:
    mod = _module(tmp_path, "airfoil_unit_steps_bad", "def count(df):\n    return len(df)\n")
    write_csv(classification_frame(10))
    with pytest.raises(DataError, match=rf"'{mod}:count' returned int; it must return a DataFrame"):
        extract(make_ctx(make_spec(prepare={"steps": [f"{mod}:count"]})))


def test_custom_step_that_cannot_be_imported(make_spec, make_ctx, write_csv) -> None:
    write_csv(classification_frame(10))
    with pytest.raises(DataError, match=r"cannot import 'airfoil_unit_missing_mod:fix'"):
        extract(make_ctx(make_spec(prepare={"steps": ["airfoil_unit_missing_mod:fix"]})))


def test_cars_example_extracts_with_its_custom_step(make_ctx) -> None:
    spec = load_spec(EXAMPLES / "cars" / "pipeline.yaml")
    try:
        out = extract(make_ctx(spec))
    finally:
        sys.modules.pop("cars_steps", None)
    stored = io.read_parquet(out)
    assert "Name" not in stored.columns
    assert pd.api.types.is_integer_dtype(stored["Year"])
    assert stored["Year"].between(1970, 1982).all()


# ---- split -------------------------------------------------------------------------------------


def _extracted(ctx, df: pd.DataFrame) -> dict:
    return io.write_parquet(df, ctx.uri("extracted.parquet"))


def _run_split(make_spec, make_ctx, df: pd.DataFrame, run_id: str = "run1", **spec_overrides) -> dict:
    spec = make_spec(**spec_overrides)
    ctx = make_ctx(spec, task_id="split", run_id=run_id)
    return split(ctx, _extracted(ctx, df))


def test_split_is_reproducible(make_spec, make_ctx) -> None:
    df = classification_frame(50)
    a = _run_split(make_spec, make_ctx, df, split={"seed": 3})
    b = _run_split(make_spec, make_ctx, df, "run2", split={"seed": 3})
    assert a["train"]["uri"] != b["train"]["uri"]
    assert a["fingerprint"] == b["fingerprint"]
    pd.testing.assert_frame_equal(io.read_parquet(a["train"]), io.read_parquet(b["train"]))
    assert a["train"]["rows"] + a["test"]["rows"] == 50
    assert a["test"]["rows"] == 10


def test_split_seed_changes_the_fingerprint(make_spec, make_ctx) -> None:
    df = classification_frame(50)
    a = _run_split(make_spec, make_ctx, df, split={"seed": 1})
    b = _run_split(make_spec, make_ctx, df, "run2", split={"seed": 2})
    assert a["fingerprint"] != b["fingerprint"]
    assert set(io.read_parquet(a["test"])["x1"]) != set(io.read_parquet(b["test"])["x1"])


def test_stratified_split_keeps_the_class_ratio(make_spec, make_ctx) -> None:
    df = pd.DataFrame({"x1": np.arange(100.0), "label": ["a"] * 80 + ["b"] * 20})
    out = _run_split(make_spec, make_ctx, df, split={"stratify": True, "test_size": 0.25})
    test = io.read_parquet(out["test"])
    train = io.read_parquet(out["train"])
    assert test["label"].value_counts().to_dict() == {"a": 20, "b": 5}
    assert train["label"].value_counts().to_dict() == {"a": 60, "b": 15}


def test_stratify_with_a_single_row_class(make_spec, make_ctx) -> None:
    df = pd.DataFrame({"x1": np.arange(20.0), "label": ["a"] * 10 + ["b"] * 9 + ["c"]})
    with pytest.raises(DataError, match=r"class\(es\) \['c'\] have fewer than 2 rows"):
        _run_split(make_spec, make_ctx, df, split={"stratify": True})


def test_time_split_with_test_after(make_spec, make_ctx) -> None:
    dates = pd.date_range("2023-10-01", periods=10, freq="MS").strftime("%Y-%m-%d")
    df = regression_frame(10).assign(date=dates)
    out = _run_split(make_spec, make_ctx, df, split={"by": "date", "test_after": "2024-03-15"}, **REGRESSION)
    train, test = io.read_parquet(out["train"]), io.read_parquet(out["test"])
    assert list(test["date"]) == ["2024-04-01", "2024-05-01", "2024-06-01", "2024-07-01"]
    assert len(train) == 6
    assert train["date"].max() < "2024-03-15"


def test_time_split_by_only_takes_the_newest_rows(make_spec, make_ctx) -> None:
    df = regression_frame(20).assign(t=np.arange(20)[::-1])  # newest rows first in the file
    out = _run_split(make_spec, make_ctx, df, split={"by": "t", "test_size": 0.25}, **REGRESSION)
    assert sorted(io.read_parquet(out["test"])["t"]) == [15, 16, 17, 18, 19]
    assert io.read_parquet(out["train"])["t"].max() == 14


def test_time_split_with_numeric_by_and_test_after(make_spec, make_ctx) -> None:
    df = regression_frame(10).assign(year=np.arange(2015, 2025))
    out = _run_split(make_spec, make_ctx, df, split={"by": "year", "test_after": "2021"}, **REGRESSION)
    assert sorted(io.read_parquet(out["test"])["year"]) == [2022, 2023, 2024]


def test_time_split_by_unknown_column(make_spec, make_ctx) -> None:
    with pytest.raises(DataError, match=r"split\.by names 'when', not in the data"):
        _run_split(make_spec, make_ctx, regression_frame(10), split={"by": "when"}, **REGRESSION)


def test_rows_without_target_are_dropped_and_counted(make_spec, make_ctx) -> None:
    df = regression_frame(30)
    df.loc[[2, 5, 7], "y"] = np.nan
    out = _run_split(make_spec, make_ctx, df, **REGRESSION)
    assert out["rows_without_target"] == 3
    assert out["train"]["rows"] + out["test"]["rows"] == 27
    assert io.read_parquet(out["train"])["y"].notna().all()


def test_too_few_rows_with_a_target(make_spec, make_ctx) -> None:
    df = regression_frame(5)
    df.loc[[0, 1], "y"] = np.nan
    with pytest.raises(DataError, match="only 3 rows have a target value"):
        _run_split(make_spec, make_ctx, df, **REGRESSION)


def test_split_publishes_the_latest_dataset(make_spec, make_ctx) -> None:
    spec = make_spec()
    ctx = make_ctx(spec, task_id="split")
    out = split(ctx, _extracted(ctx, classification_frame(30)))
    assert io.exists(ctx.pipeline_uri("dataset", "latest.json"))
    found = latest_dataset(make_ctx(spec, task_id="dataset"))
    assert found == out
    assert found["prepared_by"] == {"dag_id": "demo__prepare", "run_id": "manual__2024-01-01T00:00:00"}


def test_latest_dataset_before_any_prepare_run(make_spec, make_ctx) -> None:
    with pytest.raises(DataError, match="no prepared dataset yet; run the prepare DAG first"):
        latest_dataset(make_ctx(make_spec(), task_id="dataset"))
