"""What the DAG-folder file calls: render every pipeline found under AIRFOIL_PIPELINES.

Parsing imports `airflow.sdk`, pydantic and PyYAML (both already loaded by Airflow) and airfoil's
spec/plan modules: never pandas, scikit-learn or MLflow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from airfoil.errors import SpecError
from airfoil.plan import build_plans
from airfoil.settings import load_settings
from airfoil.spec.catalog import find_specs
from airfoil.spec.loader import load_spec

__all__ = ["DAG_FILE", "find_specs", "install_dag_file", "render_pipelines"]

log = logging.getLogger(__name__)

# The file Airflow parses (the repository's dags/airfoil_dags.py links to it): copy it into a DAG folder.
DAG_FILE = Path(__file__).with_name("airfoil_dags.py")


def install_dag_file(folder: Path) -> Path:
    """Put airfoil's DAG file into `folder` (unless it is there already, unchanged); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / DAG_FILE.name
    text = DAG_FILE.read_text()
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


def render_pipelines(paths: Iterable[Path] | None = None) -> dict[str, Any]:
    """{dag_id: DAG} for every valid spec; an invalid spec is logged and skipped, not fatal to the others."""
    from airfoil.airflow.render import render

    dags: dict[str, Any] = {}
    for path in find_specs(load_settings().pipelines if paths is None else paths):
        try:
            spec = load_spec(path)
        except SpecError as exc:
            log.error("airfoil: skipping %s: %s", path, exc)
            continue
        plans = build_plans(spec, str(path))
        if any(plan.dag_id in dags for plan in plans):
            log.error("airfoil: skipping %s: another spec already defines pipeline %r", path, spec.name)
            continue
        for plan in plans:
            dags[plan.dag_id] = render(plan)
    return dags
