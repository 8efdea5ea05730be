"""Model files: skops with airfoil's trusted-types list; sha256 checked before loading."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from tests.unit.unit_support import classification_frame

from airfoil.artifacts import modelfile
from airfoil.errors import UnsafeModelError
from airfoil.steps.model import build_pipeline, feature_frame


def double(x):
    return x * 2


@pytest.fixture
def fitted(make_spec):
    df = classification_frame(60)
    spec = make_spec()
    X = feature_frame(df, spec)
    return build_pipeline(spec, X, LogisticRegression()).fit(X, df["label"]), X


def test_round_trip_predicts_the_same(fitted, tmp_path: Path) -> None:
    model, X = fitted
    ref = modelfile.save(model, str(tmp_path / "m" / "model.skops"))
    assert set(ref) == {"uri", "sha256"}
    loaded = modelfile.load(ref)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))


def test_sha256_mismatch_is_refused(fitted, tmp_path: Path) -> None:
    model, _ = fitted
    ref = modelfile.save(model, str(tmp_path / "model.skops"))
    other = modelfile.save(LogisticRegression(), str(tmp_path / "other.skops"))
    Path(ref["uri"]).write_bytes(Path(other["uri"]).read_bytes())  # swapped after it was written
    with pytest.raises(UnsafeModelError, match="does not match its recorded sha256"):
        modelfile.load(ref)


def test_untrusted_function_is_refused_when_saving() -> None:
    X = np.arange(20.0).reshape(10, 2)
    model = make_pipeline(FunctionTransformer(double), LogisticRegression()).fit(X, [0, 1] * 5)
    with pytest.raises(UnsafeModelError, match=r"types airfoil does not trust: \['test_modelfile\.double'\]"):
        modelfile.dumps(model)


def test_untrusted_function_is_refused_when_loading() -> None:
    import skops.io as sio

    X = np.arange(20.0).reshape(10, 2)
    model = make_pipeline(FunctionTransformer(double), LogisticRegression()).fit(X, [0, 1] * 5)
    data = sio.dumps(model)  # written by someone else, not through airfoil
    with pytest.raises(UnsafeModelError, match=r"test_modelfile\.double"):
        modelfile.loads(data)


@pytest.mark.parametrize("func", [builtins.eval, pd.read_pickle], ids=["builtins.eval", "pandas.read_pickle"])
def test_code_running_functions_are_refused(func) -> None:
    import skops.io as sio

    data = sio.dumps(make_pipeline(FunctionTransformer(func), LogisticRegression()))
    with pytest.raises(UnsafeModelError):
        modelfile.loads(data)
