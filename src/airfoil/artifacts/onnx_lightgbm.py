"""LightGBM to ONNX in float64: airfoil's converter, registered with skl2onnx.

onnxmltools' converter compares in float32, while LightGBM compares the float64 input with float64
thresholds that sit right next to training values: on the cars example a scaled test value one ulp
above a threshold took the other branch in float32 (a prediction 0.74 mpg off). The trees come from
`booster_.dump_model()` (the best iteration, which `predict` uses too); per node, as LightGBM's
NumericalDecision: `x <= threshold` goes left; NaN follows `default_left` when the split learned
missing values (missing_type NaN) and is read as 0.0 otherwise. Zero-as-missing and categorical
splits are refused with that reason (airfoil's specs cannot ask for either).
"""

from __future__ import annotations

from typing import Any

from airfoil.artifacts.onnx_trees import Forest, Unconvertible, add_head

LINKS = {
    **dict.fromkeys(("regression", "regression_l1", "huber", "fair", "quantile", "mape"), "identity"),
    **dict.fromkeys(("poisson", "gamma", "tweedie"), "exp"),
    "binary": "sigmoid",
    "multiclass": "softmax",
}


def convert_lightgbm(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx converter for LGBMRegressor / LGBMClassifier; labels are the argmax of the
    probabilities, as LGBMClassifier.predict takes them."""
    forest, link = lightgbm_forest(operator.raw_operator)
    add_head(scope, operator, container, (forest, [0.0] * forest.n_targets, link), label_from_raw=False)


def lightgbm_forest(est: Any) -> tuple[Forest, str]:
    """The trees of a fitted LightGBM model (its initial score is in the first trees' leaves) and
    the link of its objective."""
    dump = est.booster_.dump_model()
    if dump.get("average_output"):
        raise Unconvertible("boosting 'rf' averages its trees; only summed boosting is converted")
    objective, *params = dump["objective"].split()
    link = LINKS.get(objective)
    if link is None:
        raise Unconvertible(f"objective {objective!r} has no ONNX form here")
    if objective == "binary" and "sigmoid:1" not in params:
        raise Unconvertible(f"objective {dump['objective']!r}: only sigmoid:1 is converted")
    per_iteration = int(dump["num_tree_per_iteration"])
    forest = Forest(n_targets=per_iteration)
    for info in dump["tree_info"]:
        forest.add_tree(_tree(info["tree_structure"]), target=int(info["tree_index"]) % per_iteration)
    return forest, link


def _tree(root: dict[str, Any]) -> dict[str, Any]:
    """One dumped tree (nested dicts) as the flat arrays `Forest.add_tree` takes, root first."""
    tree: dict[str, Any] = {k: [] for k in ("left", "right", "feature", "threshold", "missing_left", "value")}
    tree["sets"] = {}
    stack: list[tuple[dict[str, Any], int, str]] = [(root, -1, "")]
    while stack:
        node, parent, side = stack.pop()
        index = len(tree["left"])
        if parent >= 0:
            tree[side][parent] = index
        if "leaf_value" in node:
            _append(tree, (-1, 0, 0.0, False, float(node["leaf_value"])))
            continue
        if node["decision_type"] != "<=":
            raise Unconvertible(f"a categorical split on column {node['split_feature']}")
        threshold = float(node["threshold"])
        missing = node["missing_type"]
        if missing == "Zero":
            raise Unconvertible(f"a zero-as-missing split on column {node['split_feature']}")
        missing_left = bool(node["default_left"]) if missing == "NaN" else threshold >= 0.0
        _append(tree, (0, int(node["split_feature"]), threshold, missing_left, 0.0))
        stack.append((node["right_child"], index, "right"))
        stack.append((node["left_child"], index, "left"))
    return tree


def _append(tree: dict[str, Any], row: tuple[int, int, float, bool, float]) -> None:
    """A node (children, feature, threshold, missing_left, value); an inner node's children (0 here)
    are set when they are reached, a leaf keeps -1."""
    child, feature, threshold, missing, value = row
    for key, item in zip(
        ("left", "right", "feature", "threshold", "missing_left", "value"),
        (child, child, feature, threshold, missing, value),
        strict=True,
    ):
        tree[key].append(item)
