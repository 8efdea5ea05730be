"""`airfoil init` as a whole on small files: the written spec loads, its rules accept the data, and
every bad input is refused with a message that says what to change, writing nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from airfoil.cli.main import app
from airfoil.errors import DataError
from airfoil.scaffold.build import Request, scaffold
from airfoil.spec.loader import load_spec
from airfoil.steps.validate import broken_rules


def _frame(n: int = 120) -> pd.DataFrame:
    """A fixture with everything init looks at: an id, a constant, nulls, a wide category, dates."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "when": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "x": np.where(rng.random(n) < 0.1, np.nan, x),
            "size": rng.integers(1, 100, n),
            "color": rng.choice(["red", "green", None], n),
            "shop": [f"shop{i % 30}" for i in range(n)],
            "const": "same",
            "label": np.where(x > 0.3, "yes", "no"),
            "amount": x * 10 + rng.normal(size=n),
        }
    )


def _csv(tmp_path: Path, df: pd.DataFrame, name: str = "shop-data.csv") -> str:
    path = tmp_path / "data" / name
    path.parent.mkdir(exist_ok=True)
    df.to_csv(path, index=False)
    return str(path)


def test_spec_from_a_csv(tmp_path: Path) -> None:
    df = _frame()
    made = scaffold(Request(_csv(tmp_path, df), "label", tmp_path / "pipeline.yaml"))
    spec = made.spec
    assert spec.name == "shop_data" and spec.task == "classification"
    assert spec.source.path.endswith("data/shop-data.csv")  # type: ignore[union-attr]
    assert "source: {path: data/shop-data.csv}" in made.text  # relative to the spec's folder
    assert spec.prepare.drop_columns == ["id", "const"]
    assert spec.prepare.encode == "ordinal"  # shop has 30 categories
    assert spec.prepare.impute.numeric == "median" and spec.prepare.impute.categorical == "most_frequent"
    assert spec.split.by == "when" and not spec.split.stratify
    assert spec.train.positive_class == "yes" and spec.metric == "f1"
    assert set(spec.gate.min) == {"accuracy", "f1"}
    assert "# drop id: id-like" in made.text and "# drop const: constant" in made.text
    assert spec.validation.columns["color"].allowed == ["green", "red"]
    assert spec.validation.columns["x"].nullable and not spec.validation.columns["size"].nullable
    # The rules accept the data they come from (after the drops, as the validate task sees it).
    assert broken_rules(df.drop(columns=["id", "const"]), spec.validation) == []


def test_regression_with_task_and_no_time(tmp_path: Path) -> None:
    df = _frame().drop(columns=["when"])
    made = scaffold(Request(_csv(tmp_path, df), "amount", tmp_path / "p.yaml", name="amounts"))
    assert made.spec.task == "regression" and made.spec.metric == "rmse"
    assert set(made.spec.gate.min) == {"r2"} and set(made.spec.gate.max) == {"rmse"}
    assert made.spec.split.by is None and not made.spec.split.stratify


@pytest.mark.parametrize(
    ("labels", "positive"),
    [
        ([0] * 80 + [1] * 40, 1),
        ([True] * 80 + [False] * 40, False),
        ([0.0] * 80 + [1.0] * 39 + [None], "1.0"),  # a float column (it has a gap): the class is 1.0
    ],
)
def test_numeric_and_boolean_classes(tmp_path: Path, labels: list, positive: object) -> None:
    df = _frame().assign(flag=labels)
    made = scaffold(Request(_csv(tmp_path, df), "flag", tmp_path / "p.yaml"))
    assert made.spec.task == "classification" and made.spec.train.positive_class == positive


def test_sql_source(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    _frame().to_sql("sales", engine, index=False)
    engine.dispose()
    made = scaffold(
        Request(f"sqlite:///{db}", "label", tmp_path / "p.yaml", sql="select * from sales", time="when")
    )
    assert made.spec.name == "sales" and made.spec.source.sql == "select * from sales"  # type: ignore[union-attr]
    assert made.spec.split.by == "when"


def test_a_large_source_is_sampled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("airfoil.scaffold.build.SAMPLE_ROWS", 100)
    made = scaffold(Request(_csv(tmp_path, _frame(150)), "label", tmp_path / "p.yaml"))
    assert made.sampled and made.rows == 100
    assert "the first 100 rows" in " ".join(made.text.replace("#", "").split())


def _bad(df: pd.DataFrame, **change: object) -> pd.DataFrame:
    out = df.copy()
    for k, v in change.items():
        out[k] = v
    return out


BAD = [
    ({"target": "lable"}, None, "--target 'lable' is not a column of the data; did you mean 'label'?"),
    ({"target": "label"}, {"label": None}, "the target 'label' is empty in all 120 rows read"),
    ({"target": "label"}, {"label": "yes"}, "the target 'label' holds one value ('yes') in every row"),
    (
        {"target": "label"},
        {"label": ["a"] * 117 + ["b"] * 3},
        "class(es) of the target 'label' with fewer than 5 rows: {'b': 3}",
    ),
    ({"target": "label", "task": "regression"}, None, "--task regression needs a numeric target"),
    ({"target": "label", "time": "color"}, None, "--time 'color' holds neither dates nor numbers"),
    (
        {"target": "label", "time": "wen"},
        None,
        "--time 'wen' is not a column of the data; did you mean 'when'?",
    ),
    ({"target": "label", "name": "my-pipe"}, None, "--name 'my-pipe': use letters, digits and underscores"),
    ({"target": "label"}, "few", "only 10 rows have a value in the target 'label'; at least 20"),
    ({"target": "label"}, "nothing left", "no column is left to learn from"),
    ({"target": "label", "data": "missing.csv"}, None, "missing.csv' matches no file; check the path"),
    ({"target": "label", "data": "data.txt"}, None, "cannot tell the format of"),
    ({"target": "label", "data": "data.txt", "format": "parquet"}, None, "cannot read"),
]


@pytest.mark.parametrize(("args", "change", "message"), BAD)
def test_bad_input(tmp_path: Path, args: dict, change: object, message: str) -> None:
    df = _frame()
    if change == "few":
        df = df.head(10)
    elif change == "nothing left":
        df = df[["id", "const", "label"]]
    elif isinstance(change, dict):
        df = _bad(df, **change)
    data = _csv(tmp_path, df)
    if "data" in args:
        (tmp_path / "data.txt").write_text("not, really\n1, 2\n")
        data = str(tmp_path / args.pop("data"))
    with pytest.raises(DataError) as err:
        scaffold(Request(data, output=tmp_path / "p.yaml", **args))  # type: ignore[arg-type]
    assert message in str(err.value)


def test_cli_writes_explains_and_never_overwrites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = _csv(tmp_path, _frame())
    runner = CliRunner()
    out = runner.invoke(app, ["init", data, "--target", "label"])
    assert out.exit_code == 0, out.output
    assert "drop id: id-like" in out.output and "airfoil run pipeline.yaml" in out.output
    assert load_spec(tmp_path / "pipeline.yaml").name == "shop_data"
    again = runner.invoke(app, ["init", data, "--target", "label"])
    assert again.exit_code == 1 and "pipeline.yaml exists; pass --force" in again.output
    forced = runner.invoke(app, ["init", data, "--target", "amount", "--force"])
    assert forced.exit_code == 0 and load_spec(tmp_path / "pipeline.yaml").task == "regression"
    bad = runner.invoke(app, ["init", data, "--target", "nope", "-o", "other.yaml"])
    assert bad.exit_code == 1 and "--target 'nope' is not a column" in bad.output
    assert not (tmp_path / "other.yaml").exists()
