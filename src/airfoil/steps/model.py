"""Build the scikit-learn Pipeline a candidate trains: learned preprocessing + the estimator.

Imputation, encoding and scaling are fitted inside the Pipeline, so the saved model applies at
predict time exactly what training fitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airfoil.errors import DataError, SpecError
from airfoil.spec.loader import import_callable
from airfoil.spec.model import LOWER_IS_BETTER, PipelineSpec

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline


def feature_frame(df: pd.DataFrame, spec: PipelineSpec) -> pd.DataFrame:
    """The model's inputs: every column but the target and date/time columns (sklearn cannot use them)."""
    import pandas as pd

    keep = [
        c
        for c in df.columns
        if c != spec.target and not pd.api.types.is_datetime64_any_dtype(df[c]) and c != spec.split.by
    ]
    if not keep:
        raise DataError(f"no feature columns left besides the target {spec.target!r}")
    return df[keep]


def column_kinds(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Split feature columns into numeric and categorical."""
    import pandas as pd

    numeric = [
        c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])
    ]
    return numeric, [c for c in X.columns if c not in numeric]


def make_estimator(spec: PipelineSpec, index: int) -> Any:
    path = spec.train.candidates[index].estimator
    try:
        cls = import_callable(spec, path)
    except (ImportError, AttributeError) as exc:
        raise SpecError(
            "<spec>", [f"train.candidates[{index}].estimator: cannot import {path!r}: {exc}"]
        ) from exc
    estimator = cls()
    # Same data and seed give the same model, unless the spec sets random_state itself.
    if "random_state" in estimator.get_params() and "random_state" not in spec.train.candidates[index].params:
        estimator.set_params(random_state=spec.split.seed)
    return estimator


def build_pipeline(spec: PipelineSpec, X: pd.DataFrame, estimator: Any) -> Pipeline:
    """Preprocessing (impute, encode, scale) for these columns, then the estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import (
        MinMaxScaler,
        OneHotEncoder,
        OrdinalEncoder,
        RobustScaler,
        StandardScaler,
    )

    prep = spec.prepare
    numeric, categorical = column_kinds(X)
    num_fill = prep.impute.fill_value if prep.impute.numeric == "constant" else None
    num_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy=prep.impute.numeric, fill_value=num_fill, keep_empty_features=True))
    ]
    scaler = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}.get(prep.scale)
    if scaler is not None:
        num_steps.append(("scale", scaler()))
    cat_fill = prep.impute.fill_value if prep.impute.categorical == "constant" else None
    encoder = (
        OneHotEncoder(
            handle_unknown="infrequent_if_exist", max_categories=prep.max_categories, sparse_output=False
        )
        if prep.encode == "onehot"
        else OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, max_categories=prep.max_categories
        )
    )
    cat_steps = [
        (
            "impute",
            SimpleImputer(
                strategy=prep.impute.categorical, fill_value=cat_fill if cat_fill is not None else "missing"
            ),
        ),
        ("encode", encoder),
    ]
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(num_steps), numeric))
    if categorical:
        transformers.append(("categorical", Pipeline(cat_steps), categorical))
    pre = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("prepare", pre), ("model", estimator)])


def scorer(spec: PipelineSpec, classes: list[Any] | None) -> Any:
    """The CV scorer for the selection metric; binary metrics score the positive class."""
    from sklearn import metrics as m

    metric = spec.metric
    if spec.task == "regression":
        return {"rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error", "r2": "r2"}[metric]
    binary = classes is not None and len(classes) == 2
    if metric == "accuracy":
        return "accuracy"
    if metric == "log_loss":
        return "neg_log_loss"
    if metric == "roc_auc":
        return "roc_auc" if binary else "roc_auc_ovr"
    fn = {"precision": m.precision_score, "recall": m.recall_score, "f1": m.f1_score}[metric]
    if binary and classes is not None:
        return m.make_scorer(fn, pos_label=positive_class(spec, classes), zero_division=0)
    return m.make_scorer(fn, average="macro", zero_division=0)


def positive_class(spec: PipelineSpec, classes: list[Any]) -> Any:
    """The class binary metrics are about: `train.positive_class`, else the last in sorted order."""
    wanted = spec.train.positive_class
    if wanted is None:
        return sorted(classes, key=str)[-1]
    for c in classes:
        if str(c) == str(wanted):
            return c
    raise DataError(f"train.positive_class {wanted!r} is not one of the target's classes {classes}")


def signed(metric: str, value: float) -> float:
    """Scores where higher is better, for comparing candidates and versions."""
    return -value if metric in LOWER_IS_BETTER else value
