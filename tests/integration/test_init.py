"""`airfoil init` -> `airfoil validate` -> `airfoil run` on every example data set and on a fixture
read with SQL: each inferred spec trains a champion, and its rules accept the data they came from.

One `airfoil run` per data set, all in this module (one xdist worker): runs are the slow part.
examples/transient_weather is not here: its data is seattle_weather's, file for file.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from airfoil.spec.loader import load_spec
from airfoil.steps.source import read_source
from airfoil.steps.validate import broken_rules
from tests.conftest import EXAMPLES
from tests.integration.conftest import Airfoil

pytestmark = pytest.mark.integration

# data (relative to examples/), target, pipeline name, what init must have inferred
CASES = {
    "breast_cancer": ("breast_cancer/data/breast_cancer.csv", "diagnosis", "breast_cancer"),
    "cars": ("cars/data/cars.csv", "Miles_per_Gallon", "cars"),
    "seattle_weather": ("seattle_weather/data/seattle-weather.csv", "weather", "seattle_weather"),
}


def _fixture_db(folder: Path) -> str:
    """A shop's sales in SQLite: an id, a constant, missing values, a wide category, dates, and an
    imbalanced yes/no label that depends on two of the columns."""
    rng = np.random.default_rng(7)
    n = 400
    x = rng.normal(size=n)
    size = rng.integers(1, 100, n)
    df = pd.DataFrame(
        {
            "sale_id": np.arange(1000, 1000 + n),
            "day": pd.date_range("2023-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "x": np.where(rng.random(n) < 0.05, np.nan, x),
            "size": size,
            "color": rng.choice(["red", "green", "blue", None], n),
            "shop": [f"shop{i % 30}" for i in range(n)],
            "currency": "EUR",
            "returned": np.where(x + size / 50 > 1.6, "yes", "no"),
        }
    )
    url = f"sqlite:///{folder / 'shop.db'}"
    engine = sa.create_engine(url)
    df.to_sql("sales", engine, index=False)
    engine.dispose()
    return url


def _init_validate_run(airfoil: Airfoil, spec: Path, *init_args: str) -> tuple[str, float]:
    out = airfoil("init", *init_args, "--output", str(spec)).stdout
    assert f"wrote {spec}" in out and "airfoil run" in out
    assert "ok:" in airfoil("validate", str(spec)).stdout
    started = time.perf_counter()
    run = airfoil("run", str(spec), timeout=900).stdout
    return run, time.perf_counter() - started


def _check_run(airfoil: Airfoil, spec: Path, run: str, seconds: float) -> None:
    loaded = load_spec(spec)
    name = loaded.name
    assert f"{name}__prepare success" in run and f"{name}__train success" in run, run
    assert "v1 is now champion" in run, run
    assert airfoil.champion(name) == 1
    # The inferred rules accept the data they were inferred from (as the validate task sees it).
    data = read_source(loaded.source).drop(columns=loaded.prepare.drop_columns)
    assert broken_rules(data, loaded.validation) == []
    print(f"\n{name}: airfoil run took {seconds:.1f} s")  # the figure the report quotes


@pytest.mark.parametrize("case", list(CASES))
def test_init_on_an_example(airfoil: Airfoil, tmp_path: Path, case: str) -> None:
    data, target, name = CASES[case]
    spec = tmp_path / "spec" / "pipeline.yaml"
    run, seconds = _init_validate_run(airfoil, spec, str(EXAMPLES / data), "--target", target)
    text = spec.read_text()
    assert f"name: {name}\n" in text and "# task:" in text and "# gate" in text
    _check_run(airfoil, spec, run, seconds)


def test_init_on_a_sql_fixture(airfoil: Airfoil, tmp_path: Path) -> None:
    url = _fixture_db(tmp_path)
    spec = tmp_path / "sales.yaml"
    run, seconds = _init_validate_run(
        airfoil, spec, url, "--sql", "select * from sales", "--target", "returned"
    )
    loaded = load_spec(spec)
    assert loaded.prepare.drop_columns == ["sale_id", "currency"]
    assert loaded.split.by == "day" and loaded.train.positive_class == "yes"
    assert loaded.prepare.encode == "ordinal" and loaded.prepare.impute.numeric == "median"
    _check_run(airfoil, spec, run, seconds)
