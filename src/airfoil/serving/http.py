"""What every route shares: JSON responses, error answers, reading a bounded body, OpenAPI bodies."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response


class BadInput(Exception):
    """A request the model or service cannot take; `status` is the HTTP code (400, 409, 413)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def json_response(obj: Any, status: int = 200, version: int | None = None) -> Response:
    """`obj` as JSON (numpy arrays too); `X-Model-Version` says which version answered."""
    headers = {"X-Model-Version": str(version)} if version is not None else None
    return Response(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY), status, headers, "application/json")


def error_response(status: int, message: str) -> Response:
    """`{"error": message}` with `status`."""
    return json_response({"error": message}, status)


async def read_json(request: Request, max_bytes: int) -> Any:
    """The body as JSON; 413 past `max_bytes` (counted as it streams in, for bodies sent without a
    Content-Length), 400 if it is not JSON."""
    return loads(await read_body(request, max_bytes))


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body's bytes; 413 past `max_bytes` (counted as it streams in, for bodies sent without a
    Content-Length)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BadInput(too_large(max_bytes), 413)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(max_bytes: int) -> str:
    """The message of a 413 for a body over the limit."""
    return f"the body is larger than the limit of {max_bytes} bytes"


def loads(raw: bytes) -> Any:
    """The body as JSON; 400 if it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"the body is not valid JSON: {exc}") from None


def request_body(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    """`openapi_extra` for a JSON request body with this schema (bodies are parsed by hand, fast)."""
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"requestBody": {"required": True, "content": {"application/json": content}}}
