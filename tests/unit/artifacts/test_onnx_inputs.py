"""The load-time wrapper of an exported ONNX graph (airfoil.artifacts.onnx_inputs): one input per
type group gives the exported graph's outputs to the bit, whatever the order of the columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airfoil.artifacts import onnx
from airfoil.artifacts.features import Features
from airfoil.artifacts.onnx_inputs import group_inputs, grouped_feeds


@pytest.fixture(scope="module")
def exported() -> tuple[bytes, list[tuple[str, str]], pd.DataFrame]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=200),
            "city": rng.choice(["Oslo", "Lima", "Pune"], 200).astype(object),
            "b": rng.normal(size=200),
            "c": rng.normal(size=200),
        }
    )
    X.loc[::7, "b"] = np.nan
    X.loc[::11, "city"] = None
    y = np.where(X["a"] + X["c"] > 0, "yes", "no")
    prep = ColumnTransformer(
        [
            (
                "num",
                Pipeline([("i", SimpleImputer(strategy="median")), ("s", StandardScaler())]),
                ["a", "b", "c"],
            ),
            (
                "cat",
                Pipeline([("i", SimpleImputer(strategy="most_frequent")), ("o", OneHotEncoder())]),
                ["city"],
            ),
        ]
    )
    model = Pipeline([("prep", prep), ("model", RandomForestClassifier(n_estimators=10, random_state=0))])
    model.fit(X, y)
    graph, report = onnx.export(model, X)
    assert graph is not None and report["status"] == "verified", report
    return graph, [tuple(c) for c in report["columns"]], X


def _session(graph: bytes):
    import onnxruntime as ort

    return ort.InferenceSession(graph, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("order", ["exported", "reversed"])
def test_grouped_inputs_give_the_exported_outputs(exported: tuple, order: str) -> None:
    graph, columns, X = exported
    if order == "reversed":  # the groups' columns in another order than the graph's Concat takes them
        columns = list(reversed(columns))
    values = {c: X[c].tolist() for c, _ in columns}
    want = _session(graph).run(None, onnx.feeds(columns, values))
    got = _session(group_inputs(graph, columns)).run(
        None, grouped_feeds(Features.from_columns(values, columns))
    )
    assert (got[0] == want[0]).all()
    np.testing.assert_array_equal(got[1], want[1])


def test_a_graph_of_other_inputs_is_refused(exported: tuple) -> None:
    graph, columns, _ = exported
    with pytest.raises(ValueError, match="not the model's columns"):
        group_inputs(graph, [*columns, ("d", "number")])
