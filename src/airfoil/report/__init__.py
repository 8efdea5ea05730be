"""The model report: one self-contained HTML page per model version (`airfoil report`, the API's
`/v1/models/{name}/report`, the Airflow Models view)."""

from __future__ import annotations

from typing import Any

from airfoil.settings import Settings


def build_report(settings: Settings, name: str, version: int | None = None, **links: Any) -> tuple[int, str]:
    """The report of `name` (the champion, or `version`): the version shown and the page's HTML.
    `links` override where the MLflow and Airflow links point (the Airflow view links to its own server)."""
    from airfoil.report.gather import gather
    from airfoil.report.page import render

    data = gather(settings, name, version)
    data["links"].update(links)
    return data["version"], render(data)
