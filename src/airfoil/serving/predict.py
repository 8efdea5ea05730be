"""The prediction routes: Open Inference Protocol v2 (metadata, ready, infer; the champion or a
version by number) and MLflow's `/invocations`. Each answer says which version made it."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from airfoil.registry.loaded import LoadedModel
from airfoil.serving import mlflow_format, oip
from airfoil.serving.champions import Champions
from airfoil.serving.http import BadInput, error_response, json_response, read_body, request_body
from airfoil.serving.inference import MLFLOW, OIP, Inference
from airfoil.settings import Settings

OIP_TAG, MLFLOW_TAG = "open inference protocol", "mlflow"


class Predictions:
    """The routes' handlers, over the champions being served."""

    def __init__(self, settings: Settings, champions: Champions, inference: Inference):
        self.settings = settings
        self.champions = champions
        self.metrics = inference.metrics
        self.inference = inference

    def add_routes(self, api: FastAPI) -> None:
        for suffix in ("", "/versions/{version}"):
            base = f"/v2/models/{{name}}{suffix}"
            api.add_api_route(base, self.model_metadata, methods=["GET"], tags=[OIP_TAG])
            api.add_api_route(f"{base}/ready", self.model_ready, methods=["GET"], tags=[OIP_TAG])
            api.add_api_route(
                f"{base}/infer",
                self.infer,
                methods=["POST"],
                tags=[OIP_TAG],
                openapi_extra=request_body(oip.SCHEMA),
            )
        api.add_api_route(
            "/v1/models/{name}/invocations",
            self.invocations,
            methods=["POST"],
            tags=[MLFLOW_TAG],
            openapi_extra=request_body(mlflow_format.SCHEMA),
        )

    async def model_metadata(self, name: str, version: str | None = None) -> Response:
        model = await self._model_or_404(name, version)
        if isinstance(model, Response):
            return model
        return json_response(oip.metadata(model), version=model.version)

    async def model_ready(self, name: str, version: str | None = None) -> Response:
        model = await self._model_or_404(name, version)
        if isinstance(model, Response):
            return model
        return json_response({"name": name, "ready": True}, version=model.version)

    async def infer(self, request: Request, name: str, version: str | None = None) -> Response:
        return await self._predict(request, name, version, OIP)

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
