"""The prediction API (FastAPI): Open Inference Protocol v2, MLflow scoring format, metrics, health."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from airfoil import __version__
from airfoil.serving import schemas
from airfoil.serving.guard import Guard, resolve_token
from airfoil.serving.inputs import OIP_TYPES, BadInput, from_mlflow, from_oip
from airfoil.serving.loaded import Served
from airfoil.serving.metrics import Metrics
from airfoil.serving.store import ModelStore
from airfoil.serving.transient import Transient, add_routes
from airfoil.settings import Settings, load_settings

log = logging.getLogger("airfoil.serving")


def _json(obj: Any, status: int = 200, version: int | None = None) -> Response:
    headers = {"X-Model-Version": str(version)} if version is not None else None
    return Response(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY), status, headers, "application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def create_app(settings: Settings | None = None, store: ModelStore | None = None) -> Any:
    """The ASGI app: FastAPI routes behind the token / size / capacity guard."""
    settings = settings or load_settings()
    metrics = store.metrics if store is not None else Metrics()
    store = store or ModelStore(settings, metrics)
    token, _ = resolve_token(settings)
    transient = Transient(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(store.start)
        await run_in_threadpool(transient.start)
        # What is loaded by now (libraries, models) lives as long as the process: keep it out of the
        # garbage collector's full passes, which otherwise walk ~350k objects (~180 ms pauses, the
        # p99 of large requests) every few requests that allocate many objects.
        gc.collect()
        gc.freeze()
        yield
        transient.stop()
        store.stop()

    api = FastAPI(
        title="airfoil prediction API",
        version=__version__,
        description="The champion of every airfoil pipeline. Every route but /v2/health/* needs "
        "`Authorization: Bearer <token>`.",
        lifespan=lifespan,
    )

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    @api.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        return _error(400, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))

    @api.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("airfoil: unexpected error")
        metrics.errors.labels("500").inc()
        return _error(500, f"internal error ({type(exc).__name__}); see the server log")

    async def read_body(request: Request) -> Any:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_body_bytes:
                raise BadInput(f"the body is larger than the limit of {settings.max_body_bytes} bytes", 413)
            chunks.append(chunk)
        try:
            return orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError as exc:
            raise BadInput(f"the body is not valid JSON: {exc}") from None

    async def served_or_404(name: str, version: str | None) -> Served | Response:
        if version is None:
            served = store.get(name)
        else:
            if not (version.isascii() and version.isdigit()):  # "²".isdigit() but int("²") fails
                return _error(400, f"version {version!r} is not a number")
            served = store.cached(name, int(version))  # no registry call on the event loop
            if served is None:
                served = await run_in_threadpool(store.get, name, int(version))
        if served is None:
            known = sorted(store.champions)
            which = f"{name!r} version {version}" if version else f"{name!r}"
            return _error(404, f"model {which} is not served; models with a champion: {known}")
        return served

    # --- Open Inference Protocol v2 -------------------------------------------------------------
    @api.get("/v2/health/live", tags=["health"])
    async def live() -> Response:
        return _json({"live": True})

    @api.get("/v2/health/ready", tags=["health"])
    async def ready() -> Response:
        return _json({"ready": store.ready}, 200 if store.ready else 503)

    @api.get("/v2", tags=["open inference protocol"])
    async def server_metadata() -> Response:
        return _json({"name": "airfoil", "version": __version__, "extensions": []})

    async def model_metadata(name: str, version: str | None = None) -> Response:
        served = await served_or_404(name, version)
        if isinstance(served, Response):
            return served
        outputs = [{"name": "predict", "datatype": _label_type(served), "shape": [-1]}]
        if served.task == "classification":
            outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(served.classes)]})
        return _json(
            {
                "name": served.name,
                "versions": [str(served.version)],
                "platform": "onnxruntime" if served.backend == "onnx" else "scikit-learn",
                "inputs": [
                    {"name": c["name"], "datatype": OIP_TYPES[c["type"]], "shape": [-1, 1]}
                    for c in served.columns
                ],
                "outputs": outputs,
                "parameters": {"classes": served.classes, "champion_since": served.since},
            },
            version=served.version,
        )

    async def model_ready(name: str, version: str | None = None) -> Response:
        served = await served_or_404(name, version)
        if isinstance(served, Response):
            return served
        return _json({"name": name, "ready": True}, version=served.version)

    async def infer(request: Request, name: str, version: str | None = None) -> Response:
        return await _predict(request, name, version, "oip")

    for suffix in ("", "/versions/{version}"):
        api.add_api_route(
            f"/v2/models/{{name}}{suffix}", model_metadata, methods=["GET"], tags=["open inference protocol"]
        )
        api.add_api_route(
            f"/v2/models/{{name}}{suffix}/ready",
            model_ready,
            methods=["GET"],
            tags=["open inference protocol"],
        )
        api.add_api_route(
            f"/v2/models/{{name}}{suffix}/infer",
            infer,
            methods=["POST"],
            tags=["open inference protocol"],
            openapi_extra=schemas.request(schemas.OIP_REQUEST),
        )

    # --- MLflow scoring format and airfoil's own routes -----------------------------------------
    @api.post(
        "/v1/models/{name}/invocations",
        tags=["mlflow"],
        openapi_extra=schemas.request(schemas.MLFLOW_REQUEST),
    )
    async def invocations(request: Request, name: str) -> Response:
        return await _predict(request, name, None, "mlflow")

    @api.get("/v1/models", tags=["airfoil"])
    async def models() -> Response:
        return _json({"models": store.describe()})

    @api.get("/metrics", tags=["airfoil"])
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    add_routes(api, transient, read_body, _json, _error)  # transient requests (serving/transient.py)

    async def _predict(request: Request, name: str, version: str | None, protocol: str) -> Response:
        started = time.perf_counter()
        served = await served_or_404(name, version)
        if isinstance(served, Response):
            metrics.errors.labels("404").inc()
            return served
        v = str(served.version)
        try:
            body = await read_body(request)
            if protocol == "oip":
                values = from_oip(body, served, settings.max_rows)
                wanted = _requested_outputs(body, served)
            else:
                values = from_mlflow(body, served, settings.max_rows)
        except BadInput as exc:
            metrics.requests.labels(name, v, protocol, str(exc.status)).inc()
            metrics.errors.labels(str(exc.status)).inc()
            return _json({"error": str(exc), "model_version": served.version}, exc.status, served.version)
        labels, proba = served.predict(values)
        if protocol == "oip":
            out = _oip_response(served, body, labels, proba, wanted)
        else:
            out = {"predictions": labels, "model_version": served.version}
        metrics.requests.labels(name, v, protocol, "200").inc()
        metrics.rows.labels(name, v).inc(len(labels))
        metrics.latency.labels(name, v).observe(time.perf_counter() - started)
        return _json(out, version=served.version)

    return Guard(api, token, settings.max_body_bytes, settings.max_inflight, metrics)


def _label_type(served: Served) -> str:
    if served.task == "regression":
        return "FP64"
    if all(isinstance(c, bool) for c in served.classes):
        return "BOOL"
    if all(isinstance(c, int) for c in served.classes):
        return "INT64"
    return "BYTES" if any(isinstance(c, str) for c in served.classes) else "FP64"


def _requested_outputs(body: dict[str, Any], served: Served) -> list[str]:
    available = ["predict", "predict_proba"] if served.task == "classification" else ["predict"]
    asked = body.get("outputs")
    if asked is None:
        return available
    if not isinstance(asked, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in asked
    ):
        raise BadInput("outputs must be a list of objects with a name")
    names = [o["name"] for o in asked]
    unknown = [n for n in names if n not in available]
    if unknown:
        raise BadInput(f"unknown output(s) {unknown}; this model has {available}")
    return names


def _oip_response(
    served: Served, body: dict[str, Any], labels: list[Any], proba: Any, wanted: list[str]
) -> dict:
    outputs: list[dict[str, Any]] = []
    if "predict" in wanted:
        outputs.append(
            {"name": "predict", "shape": [len(labels)], "datatype": _label_type(served), "data": labels}
        )
    if "predict_proba" in wanted and proba is not None:
        flat = [p for row in proba for p in row]
        outputs.append(
            {
                "name": "predict_proba",
                "shape": [len(labels), len(served.classes)],
                "datatype": "FP64",
                "data": flat,
                "parameters": {"classes": served.classes},
            }
        )
    response = {"model_name": served.name, "model_version": str(served.version), "outputs": outputs}
    if isinstance(body.get("id"), str):
        response["id"] = body["id"]
    return response
