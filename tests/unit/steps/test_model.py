"""model.build_pipeline: the learned preprocessing that travels with the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from airfoil.errors import DataError, SpecError
from airfoil.steps.model import build_pipeline, feature_frame, make_estimator, positive_class
from tests.unit.unit_support import classification_frame


def _fit(spec, df: pd.DataFrame, estimator=None):
    X = feature_frame(df, spec)
    pipe = build_pipeline(spec, X, estimator or LogisticRegression())
    return pipe.fit(X, df[spec.target]), X


def test_feature_frame_drops_target_dates_and_time_column(make_spec) -> None:
    df = classification_frame(10).assign(when=pd.date_range("2024-01-01", periods=10), t=range(10))
    spec = make_spec(split={"by": "t"})
    assert list(feature_frame(df, spec).columns) == ["x1", "x2", "color"]


def test_feature_frame_needs_a_feature(make_spec) -> None:
    with pytest.raises(DataError, match="no feature columns left besides the target 'label'"):
        feature_frame(pd.DataFrame({"label": ["a", "b"]}), make_spec())


def test_imputation_fills_missing_values(make_spec) -> None:
    df = classification_frame(40)
    df.loc[::4, "x1"] = np.nan
    df.loc[1::5, "color"] = None
    pipe, X = _fit(make_spec(), df)
    prepared = pipe.named_steps["prepare"].transform(X)
    assert not np.isnan(prepared).any()
    assert len(pipe.predict(X.iloc[:4])) == 4


def test_median_imputation_uses_the_training_median(make_spec) -> None:
    df = pd.DataFrame({"x1": [1.0, 2.0, 100.0, np.nan], "label": ["a", "b", "a", "b"]})
    spec = make_spec(prepare={"scale": "none"})
    pipe, X = _fit(spec, df, DummyClassifier())
    assert pipe.named_steps["prepare"].transform(X)[3, 0] == 2.0


def test_constant_imputation(make_spec) -> None:
    df = pd.DataFrame({"x1": [1.0, np.nan, 3.0, 4.0], "label": ["a", "b", "a", "b"]})
    spec = make_spec(prepare={"scale": "none", "impute": {"numeric": "constant", "fill_value": -9}})
    pipe, X = _fit(spec, df, DummyClassifier())
    assert pipe.named_steps["prepare"].transform(X)[1, 0] == -9


def test_onehot_ignores_a_category_unseen_in_training(make_spec) -> None:
    pipe, X = _fit(make_spec(), classification_frame(40))
    new = X.head(2).assign(color=["purple", "red"])
    assert len(pipe.predict(new)) == 2
    encoded = pipe.named_steps["prepare"].transform(new)
    onehot = [
        i for i, name in enumerate(pipe.named_steps["prepare"].get_feature_names_out()) if "color" in name
    ]
    assert encoded[0, onehot].sum() == 0  # the unknown colour sets no indicator
    assert encoded[1, onehot].sum() == 1


def test_max_categories_caps_onehot_columns(make_spec) -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "city": [f"c{i}" for i in rng.integers(0, 30, size=200)],
            "label": rng.choice(["a", "b"], size=200),
        }
    )
    pipe, X = _fit(make_spec(prepare={"max_categories": 5}), df)
    assert pipe.named_steps["prepare"].transform(X).shape[1] == 5
    wide, _ = _fit(make_spec(), df)
    assert wide.named_steps["prepare"].transform(X).shape[1] == 20


def test_ordinal_encoder_maps_unknown_to_minus_one(make_spec) -> None:
    df = pd.DataFrame({"color": ["red", "blue", "red", "green"], "label": ["a", "b", "a", "b"]})
    pipe, _ = _fit(make_spec(prepare={"encode": "ordinal"}), df)
    encoded = pipe.named_steps["prepare"].transform(pd.DataFrame({"color": ["purple", "blue"]}))
    assert encoded[0, 0] == -1
    assert encoded[1, 0] == 0
    assert len(pipe.predict(pd.DataFrame({"color": ["purple"]}))) == 1


@pytest.mark.parametrize(
    ("scale", "check"),
    [
        ("none", lambda col: np.allclose(col, [10.0, 20.0, 30.0, 40.0])),
        ("minmax", lambda col: np.allclose(col, [0.0, 1 / 3, 2 / 3, 1.0])),
        ("standard", lambda col: abs(col.mean()) < 1e-9 and abs(col.std() - 1) < 1e-9),
        ("robust", lambda col: np.isclose(np.median(col), 0.0)),
    ],
)
def test_scaling(make_spec, scale, check) -> None:
    df = pd.DataFrame({"x1": [10.0, 20.0, 30.0, 40.0], "label": ["a", "b", "a", "b"]})
    pipe, X = _fit(make_spec(prepare={"scale": scale}), df, DummyClassifier())
    assert check(pipe.named_steps["prepare"].transform(X)[:, 0])


def test_make_estimator_with_a_missing_class(make_spec) -> None:
    spec = make_spec(train={"candidates": [{"estimator": "sklearn.linear_model.Nope"}]})
    with pytest.raises(SpecError, match=r"train\.candidates\[0\]\.estimator: cannot import"):
        make_estimator(spec, 0)


def test_positive_class(make_spec) -> None:
    assert positive_class(make_spec(), ["no", "yes"]) == "yes"  # default: last in sorted order
    assert positive_class(make_spec(train={"positive_class": "no"}), ["no", "yes"]) == "no"
    assert positive_class(make_spec(train={"positive_class": 1}), [0, 1]) == 1
    with pytest.raises(DataError, match=r"train\.positive_class 'maybe' is not one of the target's classes"):
        positive_class(make_spec(train={"positive_class": "maybe"}), ["no", "yes"])
