"""plan.build_plans: DAG ids, schedules, assets, retries and importable step callables."""

from __future__ import annotations

import importlib

import pytest

from airfoil.plan import build_plans, dataset_asset, model_asset
from airfoil.spec.loader import parse_spec
from tests.unit.unit_support import spec_yaml

THREE_CANDIDATES = {
    "candidates": [
        {"estimator": "sklearn.linear_model.LogisticRegression"},
        {"estimator": "sklearn.tree.DecisionTreeClassifier"},
        {"estimator": "sklearn.ensemble.RandomForestClassifier"},
    ]
}


@pytest.fixture
def plans():
    spec = parse_spec(spec_yaml(name="churn", schedule="@weekly", retries=4, train=THREE_CANDIDATES))
    return {p.dag_id: p for p in build_plans(spec, "/specs/churn.yaml")}


def test_dag_ids(plans) -> None:
    assert set(plans) == {"churn__prepare", "churn__train"}


def test_prepare_runs_on_the_spec_schedule_and_emits_the_dataset(plans) -> None:
    prepare = plans["churn__prepare"]
    assert prepare.schedule == "@weekly"
    assert prepare.schedule_asset is None
    assert [t.task_id for t in prepare.tasks] == ["extract", "validate", "split"]
    assert prepare.task("split").outlets == ("airfoil://churn/dataset",)
    assert prepare.task("validate").inputs == {"extracted": "extract"}
    assert prepare.spec_path == "/specs/churn.yaml"


def test_train_is_scheduled_on_the_dataset_asset(plans) -> None:
    train = plans["churn__train"]
    assert train.schedule is None
    assert train.schedule_asset == "airfoil://churn/dataset" == dataset_asset("churn")
    assert [t.task_id for t in train.tasks] == ["dataset", "tune", "evaluate", "register", "promote"]


def test_tune_expands_over_candidates(plans) -> None:
    assert plans["churn__train"].task("tune").expand == (0, 1, 2)
    assert all(t.expand is None for t in plans["churn__train"].tasks if t.task_id != "tune")


def test_promote_emits_the_model_asset(plans) -> None:
    promote = plans["churn__train"].task("promote")
    assert promote.outlets == ("airfoil://churn/model",) == (model_asset("churn"),)
    assert promote.inputs == {"registered": "register"}


def test_every_task_has_the_spec_retries(plans) -> None:
    tasks = [t for p in plans.values() for t in p.tasks]
    assert tasks
    assert {t.retries for t in tasks} == {4}


def test_every_dag_has_the_spec_retry_delay() -> None:
    spec = parse_spec(spec_yaml(name="churn", retry_delay=3, train=THREE_CANDIDATES))
    assert {p.retry_delay for p in build_plans(spec, "/specs/churn.yaml")} == {3}


def test_inputs_name_upstream_tasks_of_the_same_dag(plans) -> None:
    for plan in plans.values():
        seen: set[str] = set()
        for task in plan.tasks:
            assert set(task.inputs.values()) <= seen, f"{plan.dag_id}.{task.task_id} reads a later task"
            seen.add(task.task_id)


def test_steps_are_importable_callables(plans) -> None:
    for plan in plans.values():
        for task in plan.tasks:
            module, sep, name = task.step.partition(":")
            assert sep == ":", task.step
            assert callable(getattr(importlib.import_module(module), name)), task.step


def test_no_schedule_means_manual_prepare() -> None:
    spec = parse_spec(spec_yaml())
    prepare, _ = build_plans(spec, "p.yaml")
    assert prepare.schedule is None


def _deploy_plans(deploy: dict) -> dict:
    spec = parse_spec(spec_yaml(name="churn", deploy=deploy))
    return {p.dag_id: p for p in build_plans(spec, "/specs/churn.yaml")}


def test_batch_dag_maps_score_over_the_blocks_discover_finds() -> None:
    plans = _deploy_plans({"batch": {"schedule": "@daily", "input": "in/*.parquet", "on_new_model": True}})
    assert set(plans) == {"churn__prepare", "churn__train", "churn__batch_predict"}
    batch = plans["churn__batch_predict"]
    assert batch.schedule == "@daily"
    assert batch.schedule_asset == model_asset("churn")  # also runs on a new champion
    score = batch.task("score")
    assert score.map_over == "block"
    assert score.inputs == {"model": "champion", "block": "discover"}
    assert batch.task("summarize").trigger_rule == "none_failed"  # reports even when nothing was new


def test_batch_without_on_new_model_runs_on_its_schedule_only() -> None:
    batch = _deploy_plans({"batch": {"schedule": "0 3 * * *", "input": "x.csv"}})["churn__batch_predict"]
    assert (batch.schedule, batch.schedule_asset) == ("0 3 * * *", None)


def test_transient_mode_replaces_train_with_the_per_request_dag() -> None:
    plans = _deploy_plans({"mode": "transient"})
    assert set(plans) == {"churn__prepare", "churn__transient"}
    transient = plans["churn__transient"]
    assert transient.schedule is None and transient.schedule_asset is None  # triggered per request
    assert [t.task_id for t in transient.tasks] == ["train_predict"]


def test_monitor_dag_checks_then_alerts_and_retraining_follows_the_drift_asset() -> None:
    from airfoil.plan import drift_alias, drift_asset

    spec = parse_spec(
        spec_yaml(name="churn", schedule="@weekly", monitor={"schedule": "@daily", "retrain_on_drift": True})
    )
    plans = {p.dag_id: p for p in build_plans(spec, "/specs/churn.yaml")}
    monitor = plans["churn__monitor"]
    assert monitor.schedule == "@daily"
    assert [t.task_id for t in monitor.tasks] == ["check", "alert"]
    assert monitor.task("alert").inputs == {"result": "check"}
    assert monitor.task("alert").alias_outlets == (drift_alias("churn"),)
    assert monitor.task("alert").outlets == ()  # an Asset outlet would fire on every success
    # prepare runs weekly OR when the monitor emits the drift Asset
    assert plans["churn__prepare"].schedule == "@weekly"
    assert plans["churn__prepare"].schedule_asset == drift_asset("churn") == "airfoil://churn/drift"


def test_without_retraining_prepare_keeps_its_schedule_only() -> None:
    spec = parse_spec(spec_yaml(name="churn", schedule="@weekly", monitor={}))
    plans = {p.dag_id: p for p in build_plans(spec, "/specs/churn.yaml")}
    assert plans["churn__prepare"].schedule_asset is None
    assert "churn__monitor" in plans
