"""The prediction routes: Open Inference Protocol v2 (metadata, ready, infer; the champion or a
version by number) and MLflow's `/invocations`. Each answer says which version made it."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from airfoil.registry.loaded import LoadedModel
from airfoil.serving import mlflow_format, oip
from airfoil.serving.champions import Champions
from airfoil.serving.contract import MODEL_VERSION_HEADER, error, ok
from airfoil.serving.http import BadInput, error_response, json_response, read_body, request_body
from airfoil.serving.inference import MLFLOW, OIP, Inference
from airfoil.settings import Settings

OIP_TAG, MLFLOW_TAG = "open inference protocol", "mlflow"
_READY = {
    "title": "ModelReady",
    "type": "object",
    "required": ["name", "ready"],
    "properties": {"name": {"type": "string"}, "ready": {"const": True}},
}
_PREDICTIONS = {
    "title": "Predictions",
    "type": "object",
    "required": ["predictions", "model_version"],
    "properties": {"predictions": {"type": "array", "items": {}}, "model_version": {"type": "integer"}},
}


# A body is checked against the model named in the path, which JSON Schema cannot follow: a body of
# the document's schema can still miss the model's inputs (its metadata lists them).
def _refused(versioned: bool) -> dict[str, Any]:
    """The 400 of a prediction route (with X-Model-Version when the model refused the body)."""
    why = (
        "the body is not JSON or not of this schema, or it does not fit the model's inputs (names, "
        "datatypes, shapes, values: see its metadata)"
    )
    header = {"X-Model-Version": {**MODEL_VERSION_HEADER["X-Model-Version"], "required": False}}
    return error(f"{why}; or the version is not a number" if versioned else why, header)


def _missing(versioned: bool) -> dict[int | str, Any]:
    """What a route answers when it does not serve the model (or version) in its path."""
    if not versioned:
        return {404: error("no model of that name is served")}
    return {400: error("the version is not a number"), 404: error("no such model, or no such version of it")}


class Predictions:
    """The routes' handlers, over the champions being served."""

    def __init__(self, settings: Settings, champions: Champions, inference: Inference):
        self.settings = settings
        self.champions = champions
        self.metrics = inference.metrics
        self.inference = inference

    def add_routes(self, api: FastAPI) -> None:
        """The routes of both protocols, each declared with every answer it gives (serving.contract)."""
        max_rows = self.settings.max_rows
        for suffix in ("", "/versions/{version}"):
            base = f"/v2/models/{{name}}{suffix}"
            which = "model_version" if suffix else "model"  # the operations' ids: model_infer, ...
            missing = _missing(versioned=bool(suffix))
            meta = ok(oip.METADATA, "the model's inputs and outputs", MODEL_VERSION_HEADER)
            api.add_api_route(
                base,
                self.model_metadata,
                name=f"{which}_metadata",
                methods=["GET"],
                tags=[OIP_TAG],
                responses={200: meta, **missing},
            )
            ready = ok(_READY, "the model is loaded", MODEL_VERSION_HEADER)
            api.add_api_route(
                f"{base}/ready",
                self.model_ready,
                name=f"{which}_ready",
                methods=["GET"],
                tags=[OIP_TAG],
                responses={200: ready, **missing},
            )
            answer = ok(oip.RESPONSE, "the predictions", MODEL_VERSION_HEADER)
            api.add_api_route(
                f"{base}/infer",
                self.infer,
                name=f"{which}_infer",
                methods=["POST"],
                tags=[OIP_TAG],
                openapi_extra=request_body(oip.request_schema(max_rows)),
                responses={200: answer, **missing, 400: _refused(bool(suffix))},
            )
        api.add_api_route(
            "/v1/models/{name}/invocations",
            self.invocations,
            methods=["POST"],
            tags=[MLFLOW_TAG],
            openapi_extra=request_body(mlflow_format.model_schema(max_rows)),
            responses={
                200: ok(_PREDICTIONS, "the predictions, one per row", MODEL_VERSION_HEADER),
                **_missing(versioned=False),
                400: _refused(versioned=False),
            },
        )

    # The handlers read `version` from the path: the routes without /versions/{v} serve the champion.
    async def model_metadata(self, request: Request, name: str) -> Response:
        model = await self._model_or_404(name, request.path_params.get("version"))
        if isinstance(model, Response):
            return model
        return json_response(oip.metadata(model), version=model.version)

    async def model_ready(self, request: Request, name: str) -> Response:
        model = await self._model_or_404(name, request.path_params.get("version"))
        if isinstance(model, Response):
            return model
        return json_response({"name": name, "ready": True}, version=model.version)

    async def infer(self, request: Request, name: str) -> Response:
        return await self._predict(request, name, request.path_params.get("version"), OIP)

    async def invocations(self, request: Request, name: str) -> Response:
        return await self._predict(request, name, None, MLFLOW)

    async def _predict(self, request: Request, name: str, version: str | None, protocol: str) -> Response:
        started = time.perf_counter()
        model = await self._model_or_404(name, version)
        if isinstance(model, Response):
            self.metrics.errors.labels("404").inc()
            return model
        try:
            raw = await read_body(request, self.settings.max_body_bytes)
        except BadInput as exc:
            answer = self.inference.refuse(model, protocol, exc)
        else:
            answer = self.inference.answer(model, protocol, raw, started)
        return Response(
            answer.body, answer.status, {"X-Model-Version": str(answer.version)}, "application/json"
        )

    async def _model_or_404(self, name: str, version: str | None) -> LoadedModel | Response:
        if version is None:
            model = self.champions.get(name)
        else:
            if not (version.isascii() and version.isdigit()):  # "²".isdigit() but int("²") fails
                return error_response(400, f"version {version!r} is not a number")
            model = self.champions.cached(name, int(version))  # no registry call on the event loop
            if model is None:
                model = await run_in_threadpool(self.champions.get, name, int(version))
        if model is None:
            known = sorted(self.champions.champions)
            which = f"{name!r} version {version}" if version else f"{name!r}"
            return error_response(404, f"model {which} is not served; models with a champion: {known}")
        return model
