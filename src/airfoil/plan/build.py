"""Turn a `PipelineSpec` into plain data describing the DAGs: no Airflow objects here.

The Airflow layer (`airfoil.airflow.render`) reads these plans and builds real DAGs; tests can
check a plan without Airflow installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from airfoil.plan.names import DagKind, dag_id, dataset_asset, drift_alias, drift_asset, model_asset
from airfoil.spec.model import PipelineSpec


@dataclass(frozen=True)
class TaskPlan:
    """One task: the step it calls and which upstream results it receives, by argument name."""

    task_id: str
    step: str  # "module:function" run by airfoil.steps.runner.run_step
    inputs: dict[str, str] = field(default_factory=dict)  # argument name -> upstream task_id
    expand: tuple[int, ...] | None = None  # dynamic task mapping over these candidate indexes
    map_over: str | None = None  # dynamic task mapping over the list this input holds at run time
    trigger_rule: str | None = None  # Airflow trigger rule; default all_success
    outlets: tuple[str, ...] = ()
    alias_outlets: tuple[str, ...] = ()  # AssetAliases: the step adds an event only when it decides to
    retries: int = 2
    doc: str = ""


@dataclass(frozen=True)
class DagPlan:
    """One DAG: id, schedule (cron/preset or an Asset URI) and its tasks in dependency order."""

    kind: DagKind
    pipeline: str
    spec_path: str
    tasks: tuple[TaskPlan, ...]
    schedule: str | None = None
    schedule_asset: str | None = None  # with `schedule` too: runs on either
    tags: tuple[str, ...] = ()
    doc: str = ""
    retry_delay: int = 30  # seconds between a failed task's tries (the spec's `retry_delay`)

    @property
    def dag_id(self) -> str:
        return dag_id(self.pipeline, self.kind)

    def task(self, task_id: str) -> TaskPlan:
        return next(t for t in self.tasks if t.task_id == task_id)


def build_plans(spec: PipelineSpec, spec_path: str) -> list[DagPlan]:
    """The DAGs of one pipeline: `<name>__prepare`, then `<name>__train` and `<name>__batch_predict`
    (mode permanent, batch configured) or `<name>__transient` (mode transient), and
    `<name>__monitor` when the spec has a monitor."""
    if spec.deploy.mode == "transient":
        plans = [_prepare(spec, spec_path), _transient(spec, spec_path)]
    elif spec.deploy.batch is not None:
        plans = [_prepare(spec, spec_path), _train(spec, spec_path), _batch(spec, spec_path)]
    else:
        plans = [_prepare(spec, spec_path), _train(spec, spec_path)]
    if spec.monitor is not None:
        plans.append(_monitor(spec, spec_path))
    return [replace(p, retry_delay=spec.retry_delay) for p in plans]


def _prepare(spec: PipelineSpec, spec_path: str) -> DagPlan:
    name, retries = spec.name, spec.retries
    return DagPlan(
        kind=DagKind.prepare,
        pipeline=name,
        spec_path=spec_path,
        schedule=spec.schedule,
        # With retrain_on_drift, a monitor's drift alert starts prepare (then train) too.
        schedule_asset=drift_asset(name)
        if spec.monitor is not None and spec.monitor.retrain_on_drift
        else None,
        tags=("airfoil", name, "prepare"),
        doc=f"Read, clean, validate and split the data of pipeline `{name}`; emits `{dataset_asset(name)}`.",
        tasks=(
            TaskPlan(
                "extract",
                "airfoil.steps.prepare:extract",
                retries=retries,
                doc="Read the source and apply row-level cleaning; write Parquet.",
            ),
            TaskPlan(
                "validate",
                "airfoil.steps.validate:validate",
                {"extracted": "extract"},
                retries=retries,
                doc="Check the declared column rules; stop the run with a report if any fail.",
            ),
            TaskPlan(
                "split",
                "airfoil.steps.prepare:split",
                {"extracted": "extract", "report": "validate"},
                outlets=(dataset_asset(name),),
                retries=retries,
                doc="Split into train/test Parquet files with a content fingerprint.",
            ),
        ),
    )


def _train(spec: PipelineSpec, spec_path: str) -> DagPlan:
    name, retries = spec.name, spec.retries
    candidates = tuple(range(len(spec.train.candidates)))
    return DagPlan(
        kind=DagKind.train,
        pipeline=name,
        spec_path=spec_path,
        schedule_asset=dataset_asset(name),
        tags=("airfoil", name, "train"),
        doc=f"Tune candidates, evaluate, register a version of `{name}`; promote it if it passes the gate.",
        tasks=(
            TaskPlan(
                "dataset",
                "airfoil.steps.train:latest_dataset",
                retries=retries,
                doc="Find the newest prepared train/test split.",
            ),
            TaskPlan(
                "tune",
                "airfoil.steps.train:tune",
                {"dataset": "dataset"},
                expand=candidates,
                retries=retries,
                doc="Cross-validated search over one candidate's parameter grid.",
            ),
            TaskPlan(
                "evaluate",
                "airfoil.steps.evaluate:evaluate",
                {"dataset": "dataset", "tuned": "tune"},
                retries=retries,
                doc="Pick the best candidate by CV score; test metrics and plots.",
            ),
            TaskPlan(
                "register",
                "airfoil.steps.register:register",
                {"dataset": "dataset", "tuned": "tune", "evaluated": "evaluate"},
                retries=retries,
                doc="Log to MLflow and register a model version (once per DAG run).",
            ),
            TaskPlan(
                "promote",
                "airfoil.steps.promote:promote",
                {"registered": "register"},
                outlets=(model_asset(name),),
                retries=retries,
                doc="Apply the gate; move the `champion` alias only if it passes.",
            ),
        ),
    )


def _batch(spec: PipelineSpec, spec_path: str) -> DagPlan:
    name, retries = spec.name, spec.retries
    batch = spec.deploy.batch
    assert batch is not None
    return DagPlan(
        kind=DagKind.batch_predict,
        pipeline=name,
        spec_path=spec_path,
        schedule=batch.schedule,
        schedule_asset=model_asset(name) if batch.on_new_model else None,
        tags=("airfoil", name, "batch"),
        doc=f"Score every new input block of `{name}` with the champion; store the predictions.",
        tasks=(
            TaskPlan(
                "champion",
                "airfoil.steps.batch:pin_champion",
                retries=retries,
                doc="The champion version every block of this run is scored with.",
            ),
            TaskPlan(
                "discover",
                "airfoil.steps.batch:discover",
                retries=retries,
                doc="Input blocks not scored yet (the ledger knows blocks by name and fingerprint).",
            ),
            TaskPlan(
                "score",
                "airfoil.steps.batch:score",
                {"model": "champion", "block": "discover"},
                map_over="block",
                retries=retries,
                doc="Stream one block in chunks: check rows, predict, upsert into the prediction store.",
            ),
            TaskPlan(
                "summarize",
                "airfoil.steps.batch:summarize",
                {"model": "champion", "scored": "score"},
                trigger_rule="none_failed",
                retries=retries,
                doc="Count scored and rejected rows of the run.",
            ),
        ),
    )


def _transient(spec: PipelineSpec, spec_path: str) -> DagPlan:
    name = spec.name
    return DagPlan(
        kind=DagKind.transient,
        pipeline=name,
        spec_path=spec_path,
        tags=("airfoil", name, "transient"),
        doc=f"One request to `{name}`: train a fresh model on the latest dataset, predict the request's "
        "rows (in the run's conf), store the predictions with their lineage; the model is discarded.",
        tasks=(
            TaskPlan(
                "train_predict",
                "airfoil.steps.transient:train_predict",
                retries=0,
                doc="Train per the spec, predict the request, store predictions and lineage.",
            ),
        ),
    )


def _monitor(spec: PipelineSpec, spec_path: str) -> DagPlan:
    name, retries = spec.name, spec.retries
    assert spec.monitor is not None
    return DagPlan(
        kind=DagKind.monitor,
        pipeline=name,
        spec_path=spec_path,
        schedule=spec.monitor.schedule,
        tags=("airfoil", name, "monitor"),
        doc=f"Drift of `{name}`'s inputs and predictions since the last run, live metrics from labels; "
        f"alerts, and `{drift_asset(name)}` on drift when retrain_on_drift is set.",
        tasks=(
            TaskPlan(
                "check",
                "airfoil.steps.monitor:check",
                retries=retries,
                doc="Merge the window's stored profiles; drift per feature, live metrics; store the verdict.",
            ),
            TaskPlan(
                "alert",
                "airfoil.airflow.alerts:alert",
                {"result": "check"},
                alias_outlets=(drift_alias(name),),
                retries=retries,
                doc="On an alert: the log, the spec's webhook and email notifiers, and the drift Asset.",
            ),
        ),
    )
