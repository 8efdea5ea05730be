"""Load-time wrapper of an exported ONNX graph: one [n, k] input per type group instead of one
[n, 1] input per column, so a request is fed with one or two arrays.

The exported artifact (and its sha256) stays as it is: this rewrites the graph in memory before the
session is built. Feeding 30 [1, 1] inputs costs ONNX Runtime more than the model itself (30
tensors to wrap, a Concat of 30 inputs to run): 55 µs of 70 µs for a logistic regression on one
row. The exported graph starts by concatenating the columns of each group it preprocesses; such a
Concat becomes an Identity (or a Gather, for columns in another order), and any other use of one
column reads it with a Gather. The outputs are the same to the bit: only copies are involved.
"""

from __future__ import annotations

from typing import Any

from airfoil.artifacts.features import Features
from airfoil.artifacts.onnx import MISSING_STRING, is_missing

NUMBERS, TEXT = "airfoil_numbers", "airfoil_text"


def group_inputs(graph_bytes: bytes, columns: list[tuple[str, str]]) -> bytes:
    """The graph with inputs NUMBERS [n, k] float64 and/or TEXT [n, m] string, in the columns' order.

    Raises ValueError when the graph's inputs are not the columns (a (name, number|string) list) as
    float64 / string tensors: the caller then keeps the per-column graph.
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.ModelProto.FromString(graph_bytes)
    graph = model.graph
    want = {name: TensorProto.DOUBLE if kind == "number" else TensorProto.STRING for name, kind in columns}
    have = {i.name: i.type.tensor_type.elem_type for i in graph.input}
    if have != want:
        raise ValueError(f"the graph's inputs {sorted(have)} are not the model's columns {sorted(want)}")
    groups = {
        NUMBERS: [name for name, kind in columns if kind == "number"],
        TEXT: [name for name, kind in columns if kind != "number"],
    }
    where = {name: (group, j) for group, names in groups.items() for j, name in enumerate(names)}
    nodes: list[Any] = []
    for node in graph.node:
        nodes.extend(_as_group_read(node, where, groups) or [node])
    used = {name for node in nodes for name in node.input} | {o.name for o in graph.output}
    reads = [n for name, (group, j) in where.items() if name in used for n in _gather(group, [j], name)]
    del graph.node[:]
    graph.node.extend(reads + nodes)
    del graph.input[:]
    for group, names in groups.items():
        if names:
            kind = TensorProto.DOUBLE if group == NUMBERS else TensorProto.STRING
            graph.input.append(helper.make_tensor_value_info(group, kind, [None, len(names)]))
    data: bytes = model.SerializeToString()
    return data


def _as_group_read(node: Any, where: dict[str, tuple[str, int]], groups: dict[str, list[str]]) -> list[Any]:
    """A Concat along the columns of inputs of one group, as nodes reading the group; else []."""
    from onnx import helper

    if node.op_type != "Concat" or node.domain not in ("", "ai.onnx") or not node.input:
        return []
    axis = next((a.i for a in node.attribute if a.name == "axis"), None)
    if axis not in (1, -1) or not all(name in where for name in node.input):
        return []
    group = where[node.input[0]][0]
    indices = [where[name][1] for name in node.input]
    if any(where[name][0] != group for name in node.input):
        return []
    if indices == list(range(len(groups[group]))):
        return [helper.make_node("Identity", [group], list(node.output), name=node.name)]
    return _gather(group, indices, node.output[0])


def _gather(group: str, indices: list[int], output: str) -> list[Any]:
    """Nodes that make `output` the group's columns `indices`, as [n, len(indices)]."""
    from onnx import TensorProto, helper

    const = f"{output}__columns"
    return [
        helper.make_node(
            "Constant",
            [],
            [const],
            value=helper.make_tensor(const, TensorProto.INT64, [len(indices)], indices),
        ),
        helper.make_node("Gather", [group, const], [output], axis=1),
    ]


def grouped_feeds(features: Features) -> dict[str, Any]:
    """The wrapped graph's inputs from checked rows: the number matrix as it is, the text columns as
    one [n, m] array of str (a missing value as the empty string, which the exported imputer fills)."""
    import numpy as np

    feeds: dict[str, Any] = {}
    if features.numbers.shape[1]:
        feeds[NUMBERS] = features.numbers  # C-ordered float64, as Features builds it
    if features.text:
        text = [[MISSING_STRING if is_missing(x) else str(x) for x in v] for v in features.text.values()]
        feeds[TEXT] = np.array(text, dtype=object).T.copy()
    return feeds
