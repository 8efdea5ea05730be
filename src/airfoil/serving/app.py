"""The prediction API: wires the champions, the prediction and transient routes, health, metrics and
the guard (token, body size, capacity) into one ASGI app."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from airfoil import __version__
from airfoil.errors import RegistryError
from airfoil.serving.champions import Champions
from airfoil.serving.contract import error, install, ok, operation_id
from airfoil.serving.fast_routes import FastRoutes
from airfoil.serving.guard import Guard, resolve_token
from airfoil.serving.http import error_response, json_response
from airfoil.serving.inference import Inference
from airfoil.serving.metrics import Metrics
from airfoil.serving.predict import Predictions
from airfoil.serving.profiles import LiveProfiles
from airfoil.serving.transient import routes as transient_routes
from airfoil.serving.transient.service import Transient
from airfoil.settings import Settings, load_settings
from airfoil.store import open_store
from airfoil.store.monitoring import monitor_history

log = logging.getLogger("airfoil.serving")


def create_app(settings: Settings | None = None, champions: Champions | None = None) -> Any:
    """The ASGI app: FastAPI routes behind the token / size / capacity guard."""
    settings = settings or load_settings()
    metrics = champions.metrics if champions is not None else Metrics()
    champions = champions or Champions(settings, metrics)
    token, _ = resolve_token(settings)
    transient = Transient(settings)
    profiles = LiveProfiles(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(champions.start)
        await run_in_threadpool(transient.start)
        profiles.start()
        # What is loaded by now (libraries, models) lives as long as the process: keep it out of the
        # garbage collector's full passes, which otherwise walk ~350k objects (~180 ms pauses, the
        # p99 of large requests) every few requests that allocate many objects.
        gc.collect()
        gc.freeze()
        yield
        await run_in_threadpool(profiles.stop)
        transient.stop()
        champions.stop()

    api = FastAPI(
        title="airfoil prediction API",
        version=__version__,
        description="The champion of every airfoil pipeline. Every route but /v2/health/* needs "
        "`Authorization: Bearer <token>`.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    _add_error_handlers(api, metrics)
    _add_health_routes(api, champions)
    inference = Inference(settings.max_rows, metrics, profiles)
    # The prediction routes come right after health: a router tries routes in order.
    Predictions(settings, champions, inference).add_routes(api)
    _add_airfoil_routes(api, champions, metrics, settings)
    transient_routes.add_routes(api, transient)
    install(api)
    guard = Guard(api, token, settings.max_body_bytes, settings.max_inflight, metrics)
    # What `airfoil serve`'s protocol (serving.fast_protocol) answers without the ASGI app.
    guard.fast_routes = FastRoutes(guard, champions, inference)
    return guard


def _add_error_handlers(api: FastAPI, metrics: Metrics) -> None:
    """Every error is `{"error": message}`; an unexpected one is logged and answered 500."""

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        response = error_response(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})  # 405: `Allow`, the methods the path has
        return response

    @api.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Response:
        return error_response(
            400, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        )

    @api.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("airfoil: unexpected error")
        metrics.errors.labels("500").inc()
        return error_response(500, f"internal error ({type(exc).__name__}); see the server log")


def _add_health_routes(api: FastAPI, champions: Champions) -> None:
    """Liveness, readiness and server metadata (OIP)."""

    @api.get(
        "/v2/health/live",
        name="server_live",
        tags=["health"],
        responses={200: ok(_flag("live"), "the server answers")},
    )
    async def live() -> Response:
        return json_response({"live": True})

    ready_answers: dict[int | str, dict[str, Any]] = {
        200: ok(_flag("ready"), "every champion is loaded"),
        503: ok(_flag("ready"), "not every champion is loaded yet"),
    }

    @api.get("/v2/health/ready", name="server_ready", tags=["health"], responses=ready_answers)
    async def ready() -> Response:
        return json_response({"ready": champions.ready}, 200 if champions.ready else 503)

    @api.get("/v2", tags=["open inference protocol"], responses={200: ok(_SERVER, "the server's metadata")})
    async def server_metadata() -> Response:
        return json_response({"name": "airfoil", "version": __version__, "extensions": []})


def _add_airfoil_routes(api: FastAPI, champions: Champions, metrics: Metrics, settings: Settings) -> None:
    """The models served, their last monitor verdict, Prometheus metrics."""

    @api.get("/v1/models", tags=["airfoil"], responses={200: ok(_MODELS, "the champion of every pipeline")})
    async def models() -> Response:
        return json_response({"models": champions.describe()})

    @api.get(
        "/v1/models/{name}/monitor",
        tags=["airfoil"],
        responses={
            200: ok(
                {"title": "MonitorVerdict", "type": "object"},
                "the verdict, as `airfoil monitor NAME --json` prints it",
            ),
            404: error("no monitor run of that pipeline yet"),
        },
    )
    async def monitor(name: str) -> Response:
        """The last monitor run of the pipeline, as `airfoil monitor NAME --json` prints it."""
        found = await run_in_threadpool(monitor_history, open_store(settings), name, None, 1)
        if not found:
            return error_response(
                404, f"no monitor run for {name!r} yet; run `airfoil monitor {name}` or its monitor DAG"
            )
        return json_response(found[0])

    @api.get(
        "/v1/models/{name}/report",
        tags=["airfoil"],
        response_class=HTMLResponse,
        responses={
            200: {"description": "one self-contained HTML page"},
            400: error("the version is not a number of at least 1"),
            404: error("no such model or version"),
        },
    )
    async def report(name: str, version: Annotated[int | None, Query(ge=1)] = None) -> Response:
        """The model's report (`airfoil report NAME`): one self-contained HTML page."""
        from airfoil.report import build_report

        try:
            _, html = await run_in_threadpool(build_report, settings, name, version)
        except RegistryError as exc:
            return error_response(404, str(exc))
        return HTMLResponse(html)

    @api.get(
        "/metrics",
        tags=["airfoil"],
        response_class=PlainTextResponse,
        responses={200: {"description": "Prometheus' text format"}},
    )
    async def metrics_text() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _flag(name: str) -> dict[str, Any]:
    title = f"Server{name.capitalize()}"
    return {"title": title, "type": "object", "required": [name], "properties": {name: {"type": "boolean"}}}


_SERVER = {
    "title": "ServerMetadata",
    "type": "object",
    "required": ["name", "version", "extensions"],
    "properties": {
        "name": {"type": "string"},
        "version": {"type": "string"},
        "extensions": {"type": "array", "items": {"type": "string"}},
    },
}
_MODELS = {
    "title": "Models",
    "type": "object",
    "required": ["models"],
    "properties": {
        "models": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "champion", "backend"],
                "properties": {
                    "name": {"type": "string"},
                    "champion": {"type": "integer"},
                    "since": {"type": ["string", "null"]},
                    "backend": {"type": "string", "enum": ["onnx", "sklearn"]},
                    "metrics": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
                },
            },
        }
    },
}
