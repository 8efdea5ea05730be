"""The OpenAPI document at /openapi.json: every answer of every operation, for clients generated from it.

FastAPI writes each operation from its route: the success body, the request body, the query.
`install` completes the document with what no single route says: the bearer token and the guard's
answers in front of every route (401; 413 for bodies; 503 at capacity), the rules of the path
parameters (one rule per name), the `{"error": ...}` body of every error, and no 422 (a request
FastAPI cannot read is answered 400 here, like every other bad request).

An undeclared method on a known path is answered 405 with an `Allow` header (app.py); OpenAPI has no
place for it, since a response belongs to a declared method.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from airfoil.serving.guard import OPEN_PATHS
from airfoil.serving.transient.request import REQUEST_ID
from airfoil.spec.model import PIPELINE_NAME

ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "what is wrong and what to change"},
        "model_version": {"type": "integer", "description": "the version that refused the request"},
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "AIRFOIL_API_TOKEN, or the token `airfoil serve` generated under AIRFOIL_HOME "
    "and printed at start",
}

# A path parameter means the same on every route: its rule is written here once.
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "name": {
        "description": "a pipeline's name; an unknown one is answered 404",
        "schema": {"type": "string", "pattern": PIPELINE_NAME.pattern},
    },
    "version": {
        "description": "a version of the pipeline's registered model, by number",
        "schema": {"type": "integer", "minimum": 1},
    },
    "request_id": {
        "description": "a transient request's id, as `POST /v1/models/{name}/transient` answered",
        "schema": {"type": "string", "pattern": f"^{REQUEST_ID.pattern}$"},
    },
}
MODEL_VERSION_HEADER = {
    "X-Model-Version": {
        "description": "the version of the model that answered",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def ok(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A success answer with a JSON body of this schema (for a route's `responses=`)."""
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """An error answer: `{"error": message}` (for a route's `responses=`)."""
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}
    if headers:
        out["headers"] = headers
    return out


# What the guard (serving.guard) answers in front of every route but the health routes.
UNAUTHORIZED = error(
    "missing or wrong bearer token",
    {"WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}},
)
AT_CAPACITY = error(
    "the server is at capacity (AIRFOIL_MAX_INFLIGHT requests in flight); retry shortly",
    {"Retry-After": {"description": "seconds to wait, when at capacity", "schema": {"type": "integer"}}},
)
TOO_LARGE = error("the body is larger than AIRFOIL_MAX_BODY_BYTES, or has more rows than AIRFOIL_MAX_ROWS")


def operation_id(route: APIRoute) -> str:
    """A route's operationId is its name (`model_infer`, `invocations`): what a generated client calls."""
    return route.name


def install(api: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built on first request, then kept)."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if not api.openapi_schema:
            api.openapi_schema = complete(generate())
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it


def complete(doc: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document with the guard's answers, the path parameters' rules and the error body."""
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Error"] = ERROR
    components["securitySchemes"] = {"bearer": BEARER}
    doc["security"] = [{"bearer": []}]
    for path, item in doc["paths"].items():
        for operation in item.values():
            _name_bodies(operation, schemas)
            operation["parameters"] = _parameters(path, operation.get("parameters", []))
            answers = operation["responses"]
            answers.pop("422", None)
            if path in OPEN_PATHS:
                operation["security"] = []
            else:
                _add(answers, 401, UNAUTHORIZED)
                _add(answers, 503, AT_CAPACITY)
                if "requestBody" in operation:
                    _add(answers, 413, TOO_LARGE)
            operation["responses"] = dict(sorted(answers.items()))
    return doc


def _name_bodies(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """A body schema with a `title` (InferenceRequest, ModelMetadata, ...) becomes a named component,
    so a generated client has one type for it, shared by the operations that use it."""
    places = [operation.get("requestBody", {}), *operation["responses"].values()]
    for content in (place.get("content", {}).values() for place in places):
        for media in content:
            title = media.get("schema", {}).get("title")
            if title is None or "$ref" in media["schema"]:
                continue
            if schemas.setdefault(title, media["schema"]) != media["schema"]:
                raise ValueError(f"two different schemas are titled {title!r}")
            media["schema"] = {"$ref": f"#/components/schemas/{title}"}


def _parameters(path: str, declared: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The path's parameters from PATH_PARAMETERS, in the path's order; then the query's, without
    FastAPI's `anyOf: [T, null]` for an optional one (leaving it out is how it is not given)."""
    params = [
        {"name": name, "in": "path", "required": True, **PATH_PARAMETERS[name]}
        for name in re.findall(r"\{(\w+)\}", path)
    ]
    for query in (p for p in declared if p["in"] != "path"):
        schema = query.get("schema", {})
        kinds = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
        if len(kinds) == 1 and not query.get("required"):
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            schema = {**rest, **kinds[0]}
        params.append({**query, "schema": schema})
    return params


def _add(answers: dict[str, Any], status: int, answer: dict[str, Any]) -> None:
    """One more reason for `status`: a route's own answer for that code keeps its body, both are described."""
    answer = copy.deepcopy(answer)  # the document's own copy: the constants here stay as written
    existing = answers.get(str(status))
    if existing is None:
        answers[str(status)] = answer
        return
    existing["description"] = f"{existing['description']}; or {answer['description']}"
    if "headers" in answer:
        existing["headers"] = {**answer["headers"], **existing.get("headers", {})}
        for header in existing["headers"].values():
            header.pop("required", None)  # only one of the reasons sends it
