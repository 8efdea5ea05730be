"""HistGradientBoosting* to ONNX in float64: airfoil's converter, registered with skl2onnx.

skl2onnx 1.20's own converter fails on these models (a boolean where ONNX wants ints) and would
compare in float32, while scikit-learn compares the raw float64 input with float64 thresholds.
Per node, exactly as scikit-learn's predictor decides:
- numeric: `x <= num_threshold` goes left; NaN follows `missing_go_to_left`;
- categorical (native categories, `categorical_features`): the estimator's own OrdinalEncoder maps a
  raw value to a code, and the code's bit in the node's bitset sends it left; unknown values and NaN
  follow `missing_go_to_left`. The graph tests set membership on the raw values directly: the set of
  the side a known value goes to that missing values do not.
"""

from __future__ import annotations

from typing import Any

from airfoil.artifacts.onnx_trees import Forest, Unconvertible, add_head

LINKS = {"IdentityLink": "identity", "LogLink": "exp", "LogitLink": "sigmoid", "MultinomialLogit": "softmax"}


def convert_hgb(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx converter for HistGradientBoostingRegressor / HistGradientBoostingClassifier."""
    add_head(scope, operator, container, hgb_forest(operator.raw_operator), label_from_raw=True)


def hgb_forest(est: Any) -> tuple[Forest, list[float], str]:
    """The trees of a fitted HistGradientBoosting model, its baseline per target and its link."""
    link = LINKS.get(type(est._loss.link).__name__)
    if link is None:
        raise Unconvertible(f"loss {est.loss!r}: link {type(est._loss.link).__name__} has no ONNX form here")
    columns, categories = _hgb_columns(est)
    known, f_idx_map = est._bin_mapper.make_known_categories_bitsets()
    forest = Forest(n_targets=int(est.n_trees_per_iteration_))
    for iteration in est._predictors:
        for k, predictor in enumerate(iteration):
            forest.add_tree(_hgb_tree(predictor, columns, categories, known, f_idx_map), target=k)
    return forest, [float(b) for b in est._baseline_prediction.ravel()], link


def _hgb_columns(est: Any) -> tuple[list[int], dict[int, Any]]:
    """Input column of each feature the trees see, and the raw categories of categorical features.

    With categorical features the estimator reorders its input (its ColumnTransformer puts the
    ordinal-encoded categorical columns first) and trees see codes, not raw values."""
    import numpy as np

    pre = est._preprocessor
    if pre is None:
        return list(range(int(est.n_features_in_))), {}
    columns: list[int] = []
    categories: dict[int, Any] = {}
    for name, transformer, mask in pre.transformers_:
        if name == "remainder":
            continue
        picked = [int(i) for i in np.flatnonzero(mask)]
        if name == "encoder":
            for j, cats in enumerate(transformer.categories_):
                if not np.issubdtype(np.asarray(cats).dtype, np.number):
                    raise Unconvertible(f"categorical input column {picked[j]} has non-numeric categories")
                categories[len(columns) + j] = np.asarray(cats, np.float64)
        columns.extend(picked)
    return columns, categories


def _hgb_tree(
    predictor: Any, columns: list[int], categories: dict[int, Any], known: Any, f_idx_map: Any
) -> dict[str, Any]:
    import numpy as np

    nodes = predictor.nodes
    leaf = nodes["is_leaf"].astype(bool)
    sets: dict[int, tuple[list[float], bool]] = {}
    for node in np.flatnonzero(~leaf & nodes["is_categorical"].astype(bool)):
        feature = int(nodes["feature_idx"][node])
        cats = categories[feature]
        left = _bits(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][node]], len(cats))
        seen = _bits(known[f_idx_map[feature]], len(cats))
        goes_left = not nodes["missing_go_to_left"][node]  # the side missing values do not take
        codes = left if goes_left else seen & ~left
        values = [float(v) for v in cats[codes] if not np.isnan(v)]
        if not values:
            raise Unconvertible(f"a categorical split on input column {columns[feature]} has an empty side")
        sets[int(node)] = (values, goes_left)
    return {
        "left": np.where(leaf, -1, nodes["left"].astype(np.int64)),
        "right": np.where(leaf, -1, nodes["right"].astype(np.int64)),
        "feature": [columns[f] for f in nodes["feature_idx"]],
        "threshold": nodes["num_threshold"],
        "missing_left": nodes["missing_go_to_left"],
        "value": nodes["value"],
        "sets": sets,
    }


def _bits(bitset: Any, n: int) -> Any:
    """The first n bits of a scikit-learn bitset (uint32 words, lowest bit first) as booleans."""
    import numpy as np

    words = np.asarray(bitset, dtype=np.uint32)
    return np.array([(int(words[i // 32]) >> (i % 32)) & 1 for i in range(n)], dtype=bool)
