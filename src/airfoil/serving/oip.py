"""The Open Inference Protocol v2 (KServe, Triton, MLServer): request tensors in, response tensors
out, datatypes, model metadata, and the request body's JSON schema.

A request gives one input per model column (shape [n] or [n, 1]), or a single [n, k] input holding
every column in order; `parse` turns either into checked columns (`serving.columns`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from airfoil.artifacts.features import Features
from airfoil.registry.loaded import LoadedModel
from airfoil.serving.columns import check
from airfoil.serving.http import BadInput

TYPES = {"number": "FP64", "string": "BYTES"}  # how each kind of column is declared in metadata
# The datatypes a number column takes (a text column takes BYTES); BOOL is refused: not a number here.
_NUMERIC = {"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64"}
DATATYPES = ["BYTES", *sorted(_NUMERIC)]  # every datatype `parse` may accept: the document's enum
OUTPUTS = ["predict", "predict_proba"]


def request_schema(max_rows: int) -> dict[str, Any]:
    """The infer request body's JSON schema: what `parse` takes from any model (AIRFOIL_MAX_ROWS rows
    at most); the names, datatypes and values a model takes are in its metadata."""
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {
                "type": "string",
                "description": "one of the model's inputs (its metadata), or any name for a single "
                "[n, k] input holding every column in the metadata's order",
            },
            "shape": {
                "type": "array",
                "description": "[n] or [n, 1] for a column, [n, k] for every column: n rows",
                "minItems": 1,
                "maxItems": 2,
                "prefixItems": [{"type": "integer", "minimum": 1, "maximum": max_rows}],
                "items": {"type": "integer", "minimum": 1},
            },
            "datatype": {"type": "string", "enum": DATATYPES},
            "parameters": {"type": "object"},
            "data": {
                "type": "array",
                "description": "the values in row-major order, flat or nested; null is a missing value",
                "minItems": 1,
                "items": {"anyOf": [{"type": ["number", "string", "null"]}, {"type": "array", "items": {}}]},
            },
        },
    }
    output = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "enum": OUTPUTS}, "parameters": {"type": "object"}},
    }
    return {
        "title": "InferenceRequest",
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string", "description": "echoed in the answer"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": tensor, "minItems": 1},
            "outputs": {
                "type": "array",
                "items": output,
                "description": "the outputs to answer (default: all the model has)",
            },
        },
    }


_OUT_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string", "enum": OUTPUTS},
        "shape": {"type": "array", "items": {"type": "integer"}},
        "datatype": {"type": "string", "enum": ["FP64", "INT64", "BOOL", "BYTES"]},
        "data": {"type": "array", "items": {}},
        "parameters": {"type": "object", "properties": {"classes": {"type": "array", "items": {}}}},
    },
}
RESPONSE: dict[str, Any] = {
    "title": "InferenceResponse",
    "type": "object",
    "required": ["model_name", "model_version", "outputs"],
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "id": {"type": "string"},
        "outputs": {"type": "array", "items": _OUT_TENSOR},
    },
}
_META_TENSOR = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
    },
}
METADATA: dict[str, Any] = {
    "title": "ModelMetadata",
    "type": "object",
    "required": ["name", "versions", "platform", "inputs", "outputs"],
    "properties": {
        "name": {"type": "string"},
        "versions": {"type": "array", "items": {"type": "string"}},
        "platform": {"type": "string", "enum": ["onnxruntime", "scikit-learn"]},
        "inputs": {"type": "array", "items": _META_TENSOR},
        "outputs": {"type": "array", "items": _META_TENSOR},
        "parameters": {
            "type": "object",
            "properties": {
                "classes": {"type": "array", "items": {}},
                "champion_since": {"type": ["string", "null"]},
            },
        },
    },
}


def parse(body: Any, model: LoadedModel, max_rows: int) -> Features:
    """OIP v2 infer request: one input per column ([n] or [n, 1]) or one [n, k] input in column order."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise BadInput("the body must be a JSON object with a non-empty 'inputs' list")
    if not isinstance(body.get("id", ""), str):
        raise BadInput("id must be a string")
    _check_parameters(body, "the request")
    names = model.column_names
    tensors: dict[str, list[Any]] = {}
    for i, t in enumerate(body["inputs"]):
        if not isinstance(t, dict):
            raise BadInput(f"inputs[{i}] must be an object with name, shape, datatype and data")
        name, shape, datatype, data = t.get("name"), t.get("shape"), t.get("datatype"), t.get("data")
        if not isinstance(name, str):
            raise BadInput(f"inputs[{i}].name must be a string")
        # type(d) is int: a boolean is not a dimension, although isinstance(True, int)
        if not isinstance(shape, list) or not shape or not all(type(d) is int and d >= 0 for d in shape):
            raise BadInput(f"input {name!r}: shape must be a list of non-negative integers")
        if not isinstance(datatype, str):
            raise BadInput(f"input {name!r}: datatype must be a string such as FP64 or BYTES")
        _check_parameters(t, f"input {name!r}")
        flat = _flatten(data, name)
        if len(flat) != math.prod(shape):
            raise BadInput(
                f"input {name!r}: shape {shape} holds {math.prod(shape)} values but data has {len(flat)}"
            )
        kind = model.kinds.get(name)
        if kind is not None:
            if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
                raise BadInput(f"input {name!r}: a column input has shape [n] or [n, 1], not {shape}")
            if kind == "number" and datatype not in _NUMERIC:
                raise BadInput(f"input {name!r}: datatype {datatype} but the column holds numbers (use FP64)")
            if kind == "string" and datatype != "BYTES":
                raise BadInput(f"input {name!r}: datatype {datatype} but the column holds text (use BYTES)")
            tensors[name] = flat
        elif len(body["inputs"]) == 1 and len(shape) == 2 and shape[1] == len(names):
            kinds = {c["type"] for c in model.columns}
            if kinds != ({"string"} if datatype == "BYTES" else {"number"}) or (
                datatype != "BYTES" and datatype not in _NUMERIC
            ):
                raise BadInput(
                    f"input {name!r}: a single [n, {len(names)}] input of datatype {datatype} does not fit "
                    f"this model's columns ({sorted(kinds)}); send one input per column"
                )
            width = len(names)
            tensors = {c: flat[j::width] for j, c in enumerate(names)}
        else:
            raise BadInput(
                f"unknown input {name!r}: send one input per column {names}, or one [n, {len(names)}] input"
            )
    return check(tensors, model, max_rows, parsed_json=True)


def _check_parameters(obj: dict[str, Any], what: str) -> None:
    """`parameters`, when given, is an object (the protocol's type; airfoil reads none of them)."""
    if not isinstance(obj.get("parameters", {}), dict):
        raise BadInput(f"{what}: parameters must be an object")


def _flatten(data: Any, name: str) -> list[Any]:
    if not isinstance(data, list):
        raise BadInput(f"input {name!r}: data must be a list")
    if data and isinstance(data[0], list):
        out: list[Any] = []
        stack = [data]
        while stack:  # row-major flatten of nested lists, without recursion limits
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            else:
                out.append(item)
        return out
    return data


def metadata(model: LoadedModel) -> dict[str, Any]:
    """The model metadata response: inputs, outputs and their datatypes."""
    outputs = [{"name": "predict", "datatype": label_type(model), "shape": [-1]}]
    if model.task == "classification":
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(model.classes)]})
    return {
        "name": model.name,
        "versions": [str(model.version)],
        "platform": "onnxruntime" if model.backend == "onnx" else "scikit-learn",
        "inputs": [
            {"name": c["name"], "datatype": TYPES[c["type"]], "shape": [-1, 1]} for c in model.columns
        ],
        "outputs": outputs,
        "parameters": {"classes": model.classes, "champion_since": model.since},
    }


def label_type(model: LoadedModel) -> str:
    """The OIP datatype of the model's predictions."""
    if model.task == "regression":
        return "FP64"
    if all(isinstance(c, bool) for c in model.classes):
        return "BOOL"
    if all(isinstance(c, int) for c in model.classes):
        return "INT64"
    return "BYTES" if any(isinstance(c, str) for c in model.classes) else "FP64"


def requested_outputs(body: dict[str, Any], model: LoadedModel) -> list[str]:
    """The outputs the request asks for (all the model has, when it names none)."""
    available = ["predict", "predict_proba"] if model.task == "classification" else ["predict"]
    if "outputs" not in body:
        return available
    asked = body["outputs"]
    if not isinstance(asked, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in asked
    ):
        raise BadInput("outputs must be a list of objects with a name")
    for o in asked:
        _check_parameters(o, f"output {o['name']!r}")
    names = [o["name"] for o in asked]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise BadInput(f"unknown output(s) {unknown}; this model has {available}")
    return names


def response(
    model: LoadedModel, body: dict[str, Any], labels: list[Any], proba: Any, wanted: list[str]
) -> dict[str, Any]:
    """The infer response: the wanted outputs, and the request's id echoed."""
    outputs: list[dict[str, Any]] = []
    if "predict" in wanted:
        outputs.append(
            {"name": "predict", "shape": [len(labels)], "datatype": label_type(model), "data": labels}
        )
    if "predict_proba" in wanted and proba is not None:
        # float64 whatever the graph gives (trees answer float32): the numbers Python would print
        flat = np.asarray(proba, dtype=np.float64).ravel()
        outputs.append(
            {
                "name": "predict_proba",
                "shape": [len(labels), len(model.classes)],
                "datatype": "FP64",
                "data": flat,
                "parameters": {"classes": model.classes},
            }
        )
    out: dict[str, Any] = {"model_name": model.name, "model_version": str(model.version), "outputs": outputs}
    if isinstance(body.get("id"), str):
        out["id"] = body["id"]
    return out
