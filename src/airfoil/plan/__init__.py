"""Spec -> plain task plan: ids, callables as strings, assets, schedules. Knows nothing of Airflow."""

from airfoil.plan.build import DagPlan, TaskPlan, build_plans
from airfoil.plan.names import DagKind, dag_id, dataset_asset, drift_alias, drift_asset, model_asset

__all__ = [
    "DagKind",
    "DagPlan",
    "TaskPlan",
    "build_plans",
    "dag_id",
    "dataset_asset",
    "drift_alias",
    "drift_asset",
    "model_asset",
]
