"""`POST /v1/models/{name}/transient` and `GET /v1/predictions/{request_id}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from airfoil.serving.contract import error, ok
from airfoil.serving.http import BadInput, error_response, json_response, read_json
from airfoil.serving.transient.request import openapi
from airfoil.serving.transient.runner import NotFound
from airfoil.serving.transient.service import Transient
from airfoil.store import StoreError

# A request as `Transient.describe` answers it.
STATUS: dict[str, Any] = {
    "title": "TransientStatus",
    "type": "object",
    "required": ["request_id", "pipeline", "status", "created_at", "updated_at", "links"],
    "properties": {
        "request_id": {"type": "string"},
        "pipeline": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "running", "done", "failed"]},
        "created_at": {"type": "string", "description": "ISO 8601"},
        "updated_at": {"type": "string", "description": "ISO 8601"},
        "dag_id": {"type": ["string", "null"]},
        "dag_run_id": {"type": ["string", "null"]},
        "links": {"type": "object", "properties": {"status": {"type": "string"}}},
        "error": {"type": ["string", "null"], "description": "why it failed"},
        "rows": {"type": "object", "description": "total, scored and rejected rows, once done"},
        "lineage": {"description": "the data and code the model was trained from, once done"},
        "classes": {"anyOf": [{"type": "array", "items": {}}, {"type": "null"}]},
        "predictions": {"type": "array", "items": {"type": "object"}, "description": "once done"},
    },
}
STORE_DOWN = error("the prediction store cannot be reached")


def add_routes(api: FastAPI, service: Transient) -> None:
    """The transient routes on the app; the service's store and runner work off the event loop."""

    @api.post(
        "/v1/models/{name}/transient",
        tags=["transient"],
        status_code=202,
        openapi_extra=openapi(service.settings.max_rows),
        responses={
            202: ok(STATUS, "accepted: a model is being trained for these rows"),
            200: ok(STATUS, "a request with this request_id exists already: its status"),
            400: error("the body is not JSON or does not fit the schema (e.g. columns of different lengths)"),
            404: error("no pipeline of that name, or it is not deployed with mode transient"),
            409: error("the request_id is used by a request of another pipeline"),
            502: ok(STATUS, "the run could not be started (status failed, with the reason)"),
            503: STORE_DOWN,
        },
    )
    async def transient_request(request: Request, name: str) -> Response:
        """Train a fresh model for these rows (deploy.mode transient); 202 with the request id."""
        try:
            body = await read_json(request, service.settings.max_body_bytes)
            status, out = await run_in_threadpool(service.submit, name, body)
        except BadInput as exc:
            return error_response(exc.status, str(exc))
        except NotFound as exc:
            return error_response(404, str(exc))
        except StoreError as exc:
            return error_response(503, str(exc))
        return json_response(out, status)

    @api.get(
        "/v1/predictions/{request_id}",
        tags=["transient"],
        responses={
            200: ok(STATUS, "the request; with its predictions and lineage once done"),
            404: error("no transient request with that id"),
            503: STORE_DOWN,
        },
    )
    async def transient_status(request_id: str) -> Response:
        """A transient request: pending, running, done (predictions, lineage) or failed (the reason)."""
        try:
            out = await run_in_threadpool(service.status, request_id)
        except NotFound as exc:
            return error_response(404, str(exc))
        except StoreError as exc:
            return error_response(503, str(exc))
        return json_response(out)
