"""JSON schemas of the request bodies, for the OpenAPI document (bodies are parsed by hand, fast)."""

from __future__ import annotations

from typing import Any

_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {
            "type": "string",
            "enum": [
                "BYTES",
                "FP64",
                "FP32",
                "FP16",
                "INT64",
                "INT32",
                "INT16",
                "INT8",
                "UINT64",
                "UINT32",
                "UINT16",
                "UINT8",
            ],
        },
        "parameters": {"type": "object"},
        "data": {"type": "array"},
    },
}

OIP_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "inputs": {"type": "array", "items": _TENSOR, "minItems": 1},
        "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
    },
}

_RECORDS = {"type": "array", "items": {"type": "object"}}
MLFLOW_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "Exactly one of dataframe_split, dataframe_records, instances, inputs.",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}},
            },
        },
        "dataframe_records": _RECORDS,
        "instances": {"type": "array"},
        "inputs": {"oneOf": [{"type": "object"}, {"type": "array"}]},
    },
}


def request(schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a JSON request body with this schema."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
