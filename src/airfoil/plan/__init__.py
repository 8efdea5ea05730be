"""Spec -> plain task plan: ids, callables as strings, assets, schedules. Knows nothing of Airflow."""

from airfoil.plan.build import DagPlan, TaskPlan, build_plans, dataset_asset, model_asset

__all__ = ["DagPlan", "TaskPlan", "build_plans", "dataset_asset", "model_asset"]
