"""The Models view's app, mounted by the Airflow api-server under `/airfoil` (see `plugin`).

Airflow does not authenticate a plugin's routes: every route here depends on Airflow's own user
dependency (the UI's JWT cookie or a Bearer token; none: 401, an invalid one: 403) and asks the
auth manager whether the user may read the pipeline's DAGs (no: 403).
"""

from __future__ import annotations

from typing import Annotated, Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

User = Annotated[BaseUser, Depends(get_user)]


def readable(user: BaseUser, dag_id: str | None) -> bool:
    """May `user` read this DAG (None: DAGs in general)?"""
    return bool(get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=dag_id), user=user))


def create_app() -> FastAPI:
    app = FastAPI(title="airfoil models", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/models", response_class=HTMLResponse)
    async def models(request: Request, user: User) -> HTMLResponse:
        """Every pipeline the user may read: champion, versions, promotions, drift, links."""
        from airfoil.report.models import render_models

        items = await run_in_threadpool(_overview, user, _airflow_base(request))
        return HTMLResponse(render_models(items, user.get_name()))

    @app.get("/api/models")
    async def models_json(request: Request, user: User) -> JSONResponse:
        return JSONResponse({"models": await run_in_threadpool(_overview, user, _airflow_base(request))})

    @app.get("/models/{name}/report", response_class=HTMLResponse)
    async def report(request: Request, name: str, user: User, version: int | None = None) -> HTMLResponse:
        from airfoil.errors import RegistryError
        from airfoil.plan import DagKind, dag_id
        from airfoil.report import build_report
        from airfoil.settings import load_settings

        if not readable(user, dag_id(name, DagKind.train)):
            raise HTTPException(403, f"you may not read the DAGs of pipeline {name!r}")
        try:
            _, html = await run_in_threadpool(
                build_report, load_settings(), name, version, airflow=_airflow_base(request)
            )
        except RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        return HTMLResponse(html)

    return app


def _airflow_base(request: Request) -> str:
    """The Airflow UI's own path ("" at the root): links to DAG runs stay on this server."""
    from airfoil.airflow.plugin import URL_PREFIX

    return str(request.scope.get("root_path", "")).removesuffix(URL_PREFIX)


def _overview(user: BaseUser, airflow: str) -> list[dict[str, Any]]:
    from airfoil.plan import DagKind, dag_id
    from airfoil.report.gather import overview
    from airfoil.settings import load_settings

    if not readable(user, None):
        raise HTTPException(403, "you may not read DAGs, so you may not see their models")
    items = overview(load_settings(), airflow=airflow)
    return [m for m in items if readable(user, dag_id(m["name"], DagKind.train))]
