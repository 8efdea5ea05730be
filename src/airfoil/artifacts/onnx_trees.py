"""Tree models as one ONNX TreeEnsemble in float64, for the converters airfoil writes itself.

`ai.onnx.ml` TreeEnsemble (opset 5) is the tree operator ONNX Runtime runs in float64: thresholds,
leaf values and their sum; its set-membership nodes express categorical splits. `Forest` collects the
nodes tree by tree as plain lists; `add_head` writes the graph: the trees, a baseline, the link
(identity, exp, sigmoid, softmax) and, for classifiers, the label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LEQ, MEMBER = 0, 6  # ai.onnx.ml TreeEnsemble node modes
SUM = 1  # aggregate function


@dataclass
class Forest:
    """The attributes of one TreeEnsemble node, filled tree by tree (plain lists, no ONNX)."""

    n_targets: int
    roots: list[int] = field(default_factory=list)
    modes: list[int] = field(default_factory=list)
    features: list[int] = field(default_factory=list)
    splits: list[float] = field(default_factory=list)
    true_ids: list[int] = field(default_factory=list)
    true_leaf: list[int] = field(default_factory=list)
    false_ids: list[int] = field(default_factory=list)
    false_leaf: list[int] = field(default_factory=list)
    missing_true: list[int] = field(default_factory=list)
    members: list[float] = field(default_factory=list)
    leaf_targets: list[int] = field(default_factory=list)
    leaf_weights: list[float] = field(default_factory=list)

    def add_tree(self, tree: dict[str, Any], target: int) -> None:
        """One tree: `left`/`right` (-1 at leaves), `feature`, `threshold`, `missing_left`, `value`,
        and `sets` {node: (values, the set goes left)} for membership splits."""
        left, right = tree["left"], tree["right"]
        inner = [i for i in range(len(left)) if left[i] >= 0]
        ids = {node: len(self.modes) + k for k, node in enumerate(inner)}
        for node in range(len(left)):
            if left[node] < 0:
                ids[node] = len(self.leaf_weights)
                self.leaf_targets.append(target)
                self.leaf_weights.append(float(tree["value"][node]))
        if not inner:  # a tree that is one leaf: one node whose both branches reach it
            self.roots.append(len(self.modes))
            self._node(LEQ, 0, 0.0, true=(ids[0], 1), false=(ids[0], 1), miss=False)
            return
        self.roots.append(ids[0])
        for node in inner:
            lo, hi = (
                (ids[left[node]], int(left[left[node]] < 0)),
                (ids[right[node]], int(left[right[node]] < 0)),
            )
            missing_left = bool(tree["missing_left"][node])
            if node in tree["sets"]:  # the set is the side missing values do not take: NaN is false
                values, goes_left = tree["sets"][node]
                if self.members:
                    self.members.append(float("nan"))
                self.members.extend(values)
                true, false = (lo, hi) if goes_left else (hi, lo)
                self._node(MEMBER, tree["feature"][node], float("nan"), true=true, false=false, miss=False)
            else:
                self._node(
                    LEQ, tree["feature"][node], tree["threshold"][node], true=lo, false=hi, miss=missing_left
                )

    def _node(
        self,
        mode: int,
        feature: int,
        split: float,
        *,
        true: tuple[int, int],
        false: tuple[int, int],
        miss: bool,
    ) -> None:
        self.modes.append(mode)
        self.features.append(int(feature))
        self.splits.append(float(split))
        self.true_ids.append(true[0])
        self.true_leaf.append(true[1])
        self.false_ids.append(false[0])
        self.false_leaf.append(false[1])
        self.missing_true.append(int(miss))

    def attributes(self) -> dict[str, Any]:
        """The node's attributes, thresholds and leaves as float64 tensors."""
        import numpy as np
        from onnx import numpy_helper

        attrs: dict[str, Any] = {
            "n_targets": self.n_targets,
            "aggregate_function": SUM,
            "post_transform": 0,
            "tree_roots": self.roots,
            "nodes_modes": numpy_helper.from_array(np.array(self.modes, np.uint8), "nodes_modes"),
            "nodes_featureids": self.features,
            "nodes_splits": numpy_helper.from_array(np.array(self.splits, np.float64), "nodes_splits"),
            "nodes_truenodeids": self.true_ids,
            "nodes_trueleafs": self.true_leaf,
            "nodes_falsenodeids": self.false_ids,
            "nodes_falseleafs": self.false_leaf,
            "nodes_missing_value_tracks_true": self.missing_true,
            "leaf_targetids": self.leaf_targets,
            "leaf_weights": numpy_helper.from_array(np.array(self.leaf_weights, np.float64), "leaf_weights"),
        }
        if self.members:
            attrs["membership_values"] = numpy_helper.from_array(
                np.array(self.members, np.float64), "membership_values"
            )
        return attrs


class Unconvertible(ValueError):
    """A model airfoil's converter cannot express; the message says which part and why."""


def add_head(
    scope: Any, operator: Any, container: Any, model: tuple[Forest, list[float], str], *, label_from_raw: bool
) -> None:
    """The graph of a tree model in skl2onnx's `container`: raw scores (trees + baseline), the link,
    and for a classifier its label, taken from the raw scores (`> 0` / argmax, as scikit-learn's
    HistGradientBoosting does) or from the probabilities (argmax, as LightGBM does)."""
    from onnx import TensorProto

    forest, baseline, link = model
    name = scope.get_unique_variable_name
    raw, scores, base = name("raw"), name("scores"), name("baseline")
    # op_version 3 satisfies skl2onnx (which targets ai.onnx.ml <= 3); the exported graph declares 5.
    container.add_node(
        "TreeEnsemble", operator.inputs[0].full_name, raw, op_domain="ai.onnx.ml", op_version=3,
        name=scope.get_unique_operator_name("TreeEnsemble"), **forest.attributes(),
    )  # fmt: skip
    container.add_initializer(base, TensorProto.DOUBLE, [1, len(baseline)], baseline)
    container.add_node("Add", [raw, base], scores)
    est = operator.raw_operator
    if not hasattr(est, "classes_"):
        container.add_node(
            {"identity": "Identity", "exp": "Exp"}[link], scores, operator.outputs[0].full_name
        )
        return
    proba, index = operator.outputs[1].full_name, name("index")
    if link == "sigmoid":
        one, positive, negative = name("one"), name("positive"), name("negative")
        container.add_initializer(one, TensorProto.DOUBLE, [], [1.0])
        container.add_node("Sigmoid", scores, positive)
        container.add_node("Sub", [one, positive], negative)
        container.add_node("Concat", [negative, positive], proba, axis=1)
        if label_from_raw:
            zero, above, flat, shape = name("zero"), name("above"), name("flat"), name("shape")
            container.add_initializer(zero, TensorProto.DOUBLE, [], [0.0])
            container.add_node("Greater", [scores, zero], above)
            container.add_node("Cast", above, flat, to=TensorProto.INT64)
            container.add_initializer(shape, TensorProto.INT64, [1], [-1])
            container.add_node("Reshape", [flat, shape], index)
    else:
        container.add_node("Softmax", scores, proba, axis=1)
    if not (link == "sigmoid" and label_from_raw):
        container.add_node("ArgMax", scores if label_from_raw else proba, index, axis=1, keepdims=0)
    _labels(scope, operator, container, index)


def _labels(scope: Any, operator: Any, container: Any, index: str) -> None:
    """classes_[index], as text or int64 (the type skl2onnx's shape calculator gave the output)."""
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common.data_types import StringTensorType

    classes, name = operator.raw_operator.classes_, scope.get_unique_variable_name("classes")
    if isinstance(operator.outputs[0].type, StringTensorType):
        container.add_initializer(
            name, TensorProto.STRING, [len(classes)], [str(c).encode() for c in classes]
        )
    else:
        values = np.asarray(classes).astype(np.int64).tolist()
        container.add_initializer(name, TensorProto.INT64, [len(classes)], values)
    container.add_node("Gather", [name, index], operator.outputs[0].full_name, axis=0)
