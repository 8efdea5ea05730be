"""Export a trained pipeline to ONNX and prove it predicts the same as scikit-learn.

The serving fast path uses ONNX Runtime only for versions whose export was verified on the test
set (same labels; probabilities or regression values within 1e-5). Numeric inputs stay float64 end
to end: airfoil converts `SimpleImputer` itself (IsNaN + Where) because ONNX Runtime's `Imputer`
op is float32-only, and float32 would move tree split decisions.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping
from typing import Any

TOLERANCE = 1e-5
MISSING_STRING = ""  # how a missing categorical value is fed to the ONNX graph


def input_kind(dtype: Any) -> str:
    """'number' or 'string': how one column is fed to the ONNX graph."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(dtype):
        return "string"
    return "number" if pd.api.types.is_numeric_dtype(dtype) else "string"


def input_schema(X: Any, rules: dict[str, Any]) -> list[dict[str, Any]]:
    """The model's input columns as serving and scoring check them: {name, type, nullable}.

    `nullable` comes from the spec's `validate.columns` rules (default: nulls allowed).
    """
    return [
        {
            "name": str(c),
            "type": input_kind(X[c].dtype),
            "nullable": rules[c].nullable if c in rules else True,
        }
        for c in X.columns
    ]


def feeds(columns: list[tuple[str, str]], values: Mapping[str, Any]) -> dict[str, Any]:
    """ONNX inputs, one [n, 1] array per column, from column -> sequence of values."""
    import numpy as np

    out = {}
    for name, kind in columns:
        v = values[name]
        if kind == "number":
            arr = np.asarray(v, dtype=np.float64)
        else:
            arr = np.array([MISSING_STRING if is_missing(x) else str(x) for x in v], dtype=object)
        out[name] = arr.reshape(-1, 1)
    return out


def is_missing(x: Any) -> bool:
    """None or NaN: a missing value, fed to the graph as MISSING_STRING in a text column."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def export(model: Any, X_test: Any) -> tuple[bytes | None, dict[str, Any]]:
    """ONNX bytes (or None) and a report: status verified / mismatch / unsupported, with the reason."""
    import numpy as np

    columns = [(str(c), input_kind(X_test[c].dtype)) for c in X_test.columns]
    started = time.perf_counter()
    try:
        onx = _convert(model, columns)
        import onnxruntime as ort

        session = ort.InferenceSession(onx, providers=["CPUExecutionProvider"])
        got = session.run(None, feeds(columns, {c: X_test[c].tolist() for c, _ in columns}))
    except Exception as exc:  # converters raise anything; the reason is what matters
        return None, {"status": "unsupported", "reason": f"{type(exc).__name__}: {str(exc)[:300]}"}
    report: dict[str, Any] = {"columns": columns, "seconds": round(time.perf_counter() - started, 3)}
    if hasattr(model, "predict_proba"):
        labels_equal = bool((np.asarray(got[0]).ravel() == model.predict(X_test)).all())
        diff = float(np.abs(np.asarray(got[1]) - model.predict_proba(X_test)).max())
        ok = labels_equal and diff <= TOLERANCE
        report["reason"] = f"labels {'equal' if labels_equal else 'differ'}; max |Δ probability| {diff:.2e}"
    else:
        diff = float(np.abs(np.asarray(got[0]).ravel() - model.predict(X_test)).max())
        ok = diff <= TOLERANCE
        report["reason"] = f"max |Δ prediction| {diff:.2e}"
    report["status"] = "verified" if ok else "mismatch"
    return onx, report


OPSETS = {"": 19, "ai.onnx.ml": 3}


def _convert(model: Any, columns: list[tuple[str, str]]) -> bytes:
    """Preprocessing in float64, then the estimator; trees get float32 input exactly as sklearn's do.

    scikit-learn trees cast their input to float32 before comparing with thresholds, so the
    estimator graph takes float32 for them (after a Cast) and float64 otherwise.
    """
    import numpy as np
    from onnx import TensorProto, compose, helper
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    _register_imputer()
    types = [
        (n, DoubleTensorType([None, 1]) if k == "number" else StringTensorType([None, 1])) for n, k in columns
    ]
    prep = to_onnx(model[:-1], initial_types=types, target_opset=OPSETS)
    est = model[-1]
    n_features = int(np.asarray(getattr(est, "n_features_in_", 0)))
    tree = _is_tree(est)
    width = TensorProto.FLOAT if tree else TensorProto.DOUBLE
    options = {"zipmap": False} if hasattr(est, "predict_proba") else None
    tensor = (FloatTensorType if tree else DoubleTensorType)([None, n_features])
    head = compose.add_prefix(
        to_onnx(est, initial_types=[("X", tensor)], options=options, target_opset=OPSETS), "m_"
    )
    cast = helper.make_model(
        helper.make_graph(
            [helper.make_node("Cast", ["features"], ["cast"], to=width)],
            "cast",
            [helper.make_tensor_value_info("features", TensorProto.DOUBLE, [None, n_features])],
            [helper.make_tensor_value_info("cast", width, [None, n_features])],
        )
    )
    for m in (prep, cast, head):  # merge_models wants identical opsets and IR versions
        del m.opset_import[:]
        m.opset_import.extend(helper.make_opsetid(domain, v) for domain, v in OPSETS.items())
        m.ir_version = prep.ir_version
    merged = compose.merge_models(prep, cast, io_map=[(prep.graph.output[0].name, "features")])
    merged = compose.merge_models(merged, head, io_map=[("cast", "m_X")])
    data: bytes = merged.SerializeToString()
    return data


def _is_tree(estimator: Any) -> bool:
    from sklearn.ensemble import BaseEnsemble
    from sklearn.tree import BaseDecisionTree

    name = type(estimator).__name__
    return isinstance(estimator, BaseEnsemble | BaseDecisionTree) or "Boost" in name or "Forest" in name


@functools.cache  # once per process: it replaces a converter in skl2onnx's registry
def _register_imputer() -> None:
    """Replace skl2onnx's SimpleImputer converter with one that keeps float64 and handles strings."""
    from skl2onnx import update_registered_converter
    from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes
    from sklearn.impute import SimpleImputer

    update_registered_converter(
        SimpleImputer, "SklearnSimpleImputer", calculate_sklearn_imputer_output_shapes, _convert_imputer
    )


def _convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common.data_types import StringTensorType
    from skl2onnx.operator_converters.common import concatenate_variables

    op = operator.raw_operator
    x = concatenate_variables(scope, operator.inputs, container)
    stats = op.statistics_
    fill = scope.get_unique_variable_name("fill")
    missing = scope.get_unique_variable_name("missing")
    if isinstance(operator.inputs[0].type, StringTensorType):
        container.add_initializer(fill, TensorProto.STRING, [1, len(stats)], [str(s).encode() for s in stats])
        empty = scope.get_unique_variable_name("empty")
        container.add_initializer(empty, TensorProto.STRING, [1], [MISSING_STRING.encode()])
        container.add_node("Equal", [x, empty], [missing])
    else:
        container.add_initializer(
            fill, TensorProto.DOUBLE, [1, len(stats)], np.asarray(stats, np.float64).tolist()
        )
        container.add_node("IsNaN", [x], [missing])
    container.add_node("Where", [missing, fill, x], [operator.outputs[0].full_name])
