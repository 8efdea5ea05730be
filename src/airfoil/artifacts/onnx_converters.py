"""Which converter turns each estimator into ONNX, and in which precision it takes its input.

Maintained converters where they keep parity: skl2onnx for scikit-learn, onnxmltools for XGBoost
(when both are installed: neither XGBoost nor LightGBM is a dependency of airfoil). airfoil's own,
registered with skl2onnx once per process, where they do not: `SimpleImputer` (float64, strings),
`HistGradientBoosting*` (onnx_hgb) and LightGBM (onnx_lightgbm), both float64 TreeEnsembles.
A model with no converter gets a reason that names the estimator and the libraries.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from typing import Any

MISSING_STRING = ""  # how a missing categorical value is fed to the ONNX graph


def estimator_name(est: Any) -> str:
    """The estimator's import path as a spec names it: the shortest public module that holds the class
    (`sklearn.ensemble.RandomForestRegressor`, `lightgbm.LGBMClassifier`)."""
    cls = type(est)
    parts = cls.__module__.split(".")
    public = next((i for i, part in enumerate(parts) if part.startswith("_")), len(parts))
    for depth in range(1, public + 1):
        module = ".".join(parts[:depth])
        if getattr(sys.modules.get(module), cls.__name__, None) is cls:
            return f"{module}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__name__}"


def converter_of(est: Any) -> str:
    """Who converts this estimator: `airfoil`, `onnxmltools` or `skl2onnx`."""
    library = type(est).__module__.split(".")[0]
    if type(est).__name__.startswith("HistGradientBoosting") or library == "lightgbm":
        return "airfoil"
    return "onnxmltools" if library == "xgboost" else "skl2onnx"


def ml_opset(est: Any) -> int:
    """The ai.onnx.ml opset of the graph: 5 for airfoil's TreeEnsemble (float64 trees), else 3
    (ONNX Runtime refuses opset-3 tree operators in an opset-5 graph: they are deprecated there)."""
    return 5 if converter_of(est) == "airfoil" else 3


def takes_float32(est: Any) -> bool:
    """True for trees that compare float32 inputs: scikit-learn's trees cast X, XGBoost works in float32.
    HistGradientBoosting and LightGBM compare the float64 input; everything else computes in float64."""
    from sklearn.ensemble import BaseEnsemble
    from sklearn.tree import BaseDecisionTree

    if converter_of(est) != "skl2onnx":
        return converter_of(est) == "onnxmltools"
    return isinstance(est, BaseEnsemble | BaseDecisionTree)


def why_unconvertible(est: Any) -> str | None:
    """Why no converter can take this estimator (None when one is registered)."""
    from skl2onnx import __version__ as skl2onnx_version
    from skl2onnx._supported_operators import sklearn_operator_name_map

    register()
    if type(est) in sklearn_operator_name_map:
        return None
    if converter_of(est) == "onnxmltools" and importlib.util.find_spec("onnxmltools") is None:
        return "its converter comes with onnxmltools, which is not installed (pip install onnxmltools)"
    return (
        f"no ONNX converter for {estimator_name(est)} (skl2onnx {skl2onnx_version} has none, nor has airfoil)"
    )


def options_for(est: Any) -> dict[str, Any] | None:
    """Converter options: probabilities as a plain tensor (no ZipMap); a classifier without
    probabilities gives its raw scores, which the graph then drops (labels only)."""
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_converter

    allowed = get_converter(sklearn_operator_name_map[type(est)]).get_allowed_options() or {}
    options = {}
    if "zipmap" in allowed:
        options["zipmap"] = False
    if "raw_scores" in allowed and not hasattr(est, "predict_proba"):
        options["raw_scores"] = True
    return options or None


@functools.cache  # once per process: it replaces converters in skl2onnx's registry
def register() -> None:
    """airfoil's converters, LightGBM's when it is installed, onnxmltools' for XGBoost when both are."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer

    from airfoil.artifacts.onnx_hgb import convert_hgb

    classifier = {"zipmap": [True, False, "columns"], "nocl": [True, False]}
    update_registered_converter(
        SimpleImputer, "SklearnSimpleImputer", calculate_sklearn_imputer_output_shapes, _convert_imputer
    )
    update_registered_converter(
        HistGradientBoostingRegressor,
        "SklearnHistGradientBoostingRegressor",
        calculate_linear_regressor_output_shapes,
        convert_hgb,
    )
    update_registered_converter(
        HistGradientBoostingClassifier,
        "SklearnHistGradientBoostingClassifier",
        calculate_linear_classifier_output_shapes,
        convert_hgb,
        options=classifier,
    )
    for module in ("lightgbm", "xgboost"):
        convert = _library_converter(module)
        if convert is None:
            continue
        library = importlib.import_module(module)
        prefix = "LGBM" if module == "lightgbm" else "XGB"
        update_registered_converter(
            getattr(library, f"{prefix}Classifier"),
            f"{module}{prefix}Classifier",
            calculate_linear_classifier_output_shapes,
            convert,
            options=classifier,
        )
        update_registered_converter(
            getattr(library, f"{prefix}Regressor"),
            f"{module}{prefix}Regressor",
            calculate_linear_regressor_output_shapes,
            convert,
        )


def _library_converter(module: str) -> Any:
    """The converter for an optional library's estimators, or None when it (or onnxmltools, for
    XGBoost) is not installed."""
    if importlib.util.find_spec(module) is None:
        return None
    if module == "lightgbm":
        from airfoil.artifacts.onnx_lightgbm import convert_lightgbm

        return convert_lightgbm
    if importlib.util.find_spec("onnxmltools") is None:
        return None
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost

    return convert_xgboost


def _convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    """SimpleImputer as IsNaN (or == "") + Where: float64 stays float64 (ONNX Runtime's `Imputer` is
    float32-only), and text columns are imputed too."""
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
