"""airfoil's Airflow plugin (entry point `airflow.plugins`): a Models view in the Airflow UI.

Airflow imports this module in every component that loads plugins (scheduler, DAG processor, workers),
so it imports nothing but Airflow's plugin base: the view's FastAPI app, the registry and the report
are built only when the api-server asks for `fastapi_apps`.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/airfoil"  # where the api-server mounts the view's app
URL_ROUTE = "airfoil-models"  # the UI page: <base_url>/plugin/airfoil-models


class AirfoilPlugin(AirflowPlugin):
    """The Models view: every pipeline's champion, versions, promotions, drift, and each model's report."""

    name = "airfoil"
    external_views = [  # noqa: RUF012 - Airflow's own class attribute
        {
            "name": "Models",
            "href": "airfoil/models",
            "url_route": URL_ROUTE,
            "destination": "nav",
            "nav_top_level": True,
        }
    ]

    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override] # read by the api-server only
        from airfoil.airflow.models_view import create_app

        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "airfoil models"}]
