"""`POST /v1/models/{name}/transient` and `GET /v1/predictions/{request_id}`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from airfoil.serving.http import BadInput, error_response, json_response, read_json
from airfoil.serving.transient.request import OPENAPI
from airfoil.serving.transient.runner import NotFound
from airfoil.serving.transient.service import Transient
from airfoil.store import StoreError


def add_routes(api: FastAPI, service: Transient) -> None:
    """The transient routes on the app; the service's store and runner work off the event loop."""

    @api.post("/v1/models/{name}/transient", tags=["transient"], status_code=202, openapi_extra=OPENAPI)
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

    @api.get("/v1/predictions/{request_id}", tags=["transient"])
    async def transient_status(request_id: str) -> Response:
        """A transient request: pending, running, done (predictions, lineage) or failed (the reason)."""
        try:
            out = await run_in_threadpool(service.status, request_id)
        except NotFound as exc:
            return error_response(404, str(exc))
        except StoreError as exc:
            return error_response(503, str(exc))
        return json_response(out)
