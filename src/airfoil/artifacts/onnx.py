"""Export a trained pipeline to ONNX and prove it predicts the same as scikit-learn.

The serving fast path uses ONNX Runtime only for versions whose export was verified on the test
set: the same labels, probabilities within 1e-5, regression values within 1e-5 of max(1, |value|)
(float32 models such as XGBoost carry ~1e-7 of their value). The preprocessing stays float64 end to
end; which converter takes the estimator, and in which precision, is onnx_converters' table.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from airfoil.artifacts.onnx_converters import MISSING_STRING

TOLERANCE = 1e-5


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
    """ONNX bytes (or None) and a report: status verified / mismatch / unsupported, the converter,
    and a reason that names the estimator when the fast path is refused."""
    from airfoil.artifacts import onnx_converters as conv

    est = model[-1]
    label = type(est).__name__
    columns = [(str(c), input_kind(X_test[c].dtype)) for c in X_test.columns]
    report: dict[str, Any] = {"estimator": conv.estimator_name(est), "converter": conv.converter_of(est)}
    started = time.perf_counter()
    try:
        why = conv.why_unconvertible(est)
        if why is not None:
            return None, {**report, "status": "unsupported", "reason": f"{label}: {why}"}
        onx = _convert(model, columns)
        import onnxruntime as ort

        session = ort.InferenceSession(onx, providers=["CPUExecutionProvider"])
        got = session.run(None, feeds(columns, {c: X_test[c].tolist() for c, _ in columns}))
    except Exception as exc:  # converters raise anything; the reason is what matters
        return None, {**report, "status": "unsupported", "reason": f"{label}: {_first_line(exc)}"}
    report.update(columns=columns, seconds=round(time.perf_counter() - started, 3))
    ok, text, diff = parity(model, X_test, got)
    report.update(status="verified" if ok else "mismatch", max_diff=diff)
    report["reason"] = text if ok else f"{label}: {text}"
    return onx, report


def parity(model: Any, X_test: Any, got: list[Any]) -> tuple[bool, str, float]:
    """(within tolerance, what was measured, max |Δ|) of ONNX outputs against scikit-learn's."""
    import numpy as np
    from sklearn.base import is_classifier

    expected = np.asarray(model.predict(X_test))
    if not is_classifier(model):
        diff = np.abs(np.asarray(got[0], np.float64).ravel() - expected.astype(np.float64))
        worst = float(diff.max(initial=0.0))
        relative = float((diff / np.maximum(1.0, np.abs(expected))).max(initial=0.0))
        ok = relative <= TOLERANCE
        limit = "" if ok else f" exceeds {TOLERANCE:g} × max(1, |value|)"
        return ok, f"max |Δ prediction| {worst:.2e} (relative {relative:.2e}){limit}", worst
    labels = np.asarray(got[0]).ravel()
    differ = int((labels != expected).sum()) if labels.shape == expected.shape else len(expected)
    text = "labels equal" if differ == 0 else f"labels differ on {differ} of {len(expected)} test rows"
    if not hasattr(model, "predict_proba"):
        return differ == 0, f"{text} (no probabilities)", 0.0
    worst = float(np.abs(np.asarray(got[1]) - model.predict_proba(X_test)).max(initial=0.0))
    ok = differ == 0 and worst <= TOLERANCE
    limit = f" exceeds {TOLERANCE:g}" if worst > TOLERANCE else ""
    return ok, f"{text}; max |Δ probability| {worst:.2e}{limit}", worst


def _first_line(exc: Exception) -> str:
    """A converter's error, short: its type and first line (skl2onnx adds pages of context)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {(lines[0] if lines else '')[:300]}"


# skl2onnx 1.20 converts up to ai.onnx.ml 3; a graph with airfoil's TreeEnsemble declares 5 after.
OPSETS = {"": 19, "ai.onnx.ml": 3}


def _convert(model: Any, columns: list[tuple[str, str]]) -> bytes:
    """Preprocessing in float64, a Cast to the estimator's precision, then the estimator: three
    graphs merged into one whose inputs are named exactly as the columns."""
    import numpy as np
    from onnx import TensorProto, compose, helper
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    from airfoil.artifacts import onnx_converters as conv

    conv.register()
    types = [
        (n, DoubleTensorType([None, 1]) if k == "number" else StringTensorType([None, 1])) for n, k in columns
    ]
    prep = to_onnx(model[:-1], initial_types=types, target_opset=OPSETS)
    est = model[-1]
    n_features = int(np.asarray(getattr(est, "n_features_in_", 0)))
    single = conv.takes_float32(est)
    width = TensorProto.FLOAT if single else TensorProto.DOUBLE
    tensor = (FloatTensorType if single else DoubleTensorType)([None, n_features])
    head = to_onnx(est, initial_types=[("X", tensor)], options=conv.options_for(est), target_opset=OPSETS)
    head = compose.add_prefix(head, "m_")
    cast = helper.make_model(
        helper.make_graph(
            [helper.make_node("Cast", ["features"], ["cast"], to=width)],
            "cast",
            [helper.make_tensor_value_info("features", TensorProto.DOUBLE, [None, n_features])],
            [helper.make_tensor_value_info("cast", width, [None, n_features])],
        )
    )
    opsets = {**OPSETS, "ai.onnx.ml": conv.ml_opset(est)}
    for m in (prep, cast, head):  # merge_models wants identical opsets and IR versions
        del m.opset_import[:]
        m.opset_import.extend(helper.make_opsetid(d, v) for d, v in opsets.items())
        m.ir_version = prep.ir_version
    merged = compose.merge_models(prep, cast, io_map=[(prep.graph.output[0].name, "features")])
    merged = compose.merge_models(merged, head, io_map=[("cast", "m_X")])
    if not hasattr(est, "predict_proba") and len(merged.graph.output) > 1:
        del merged.graph.output[1:]  # raw scores of a classifier without probabilities: labels only
    _name_inputs(merged.graph, [n for n, _ in columns])
    data: bytes = merged.SerializeToString()
    return data


def _name_inputs(graph: Any, names: list[str]) -> None:
    """Give the graph's inputs the columns' exact names (skl2onnx rewrites `sepal length (cm)`)."""
    renamed = {i.name: n for i, n in zip(graph.input, names, strict=True) if i.name != n}
    if not renamed:
        return
    for i in graph.input:
        i.name = renamed.get(i.name, i.name)
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name in renamed:
                node.input[k] = renamed[name]
