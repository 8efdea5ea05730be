"""Build real Airflow 3 DAGs (Task SDK) from plain `DagPlan`s: parse time only, no heavy imports.

Each task's body is a call into `airfoil.airflow.execute`, imported when the task runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, AssetAlias, task

from airfoil.plan import DagPlan, TaskPlan

START = datetime(2024, 1, 1)


def render(plan: DagPlan) -> DAG:
    """One Airflow DAG for one plan; every task runs its step through `airfoil.airflow.execute`."""
    schedule: Any = plan.schedule
    if plan.schedule_asset and plan.schedule:
        from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

        schedule = AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(plan.schedule, timezone="UTC"), assets=Asset(plan.schedule_asset)
        )
    elif plan.schedule_asset:
        schedule = Asset(plan.schedule_asset)
    with DAG(
        dag_id=plan.dag_id,
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        tags=list(plan.tags),
        doc_md=plan.doc,
        default_args={"retry_delay": timedelta(seconds=plan.retry_delay), "owner": "airfoil"},
    ) as dag:
        outputs: dict[str, Any] = {}
        for t in plan.tasks:
            fn = _task(plan, t)
            kwargs = {arg: outputs[up] for arg, up in t.inputs.items()}
            if t.expand is not None:
                outputs[t.task_id] = fn.partial(**kwargs).expand(candidate=list(t.expand))
            elif t.map_over is not None:
                over = kwargs.pop(t.map_over)
                outputs[t.task_id] = fn.partial(**kwargs).expand(**{t.map_over: over})
            else:
                outputs[t.task_id] = fn(**kwargs)
    return dag


def _task(plan: DagPlan, t: TaskPlan) -> Any:
    step, spec_path, outlets = t.step, plan.spec_path, bool(t.outlets)
    names = {*t.inputs, *(("candidate",) if t.expand is not None else ())}
    template = None
    if t.expand is not None:
        template = "{{ task.op_kwargs['candidate'] }}"
    elif t.map_over is not None:  # mapped over dicts that carry a readable "name"
        template = "{{ task.op_kwargs['" + t.map_over + "']['name'] }}"

    @task(
        task_id=t.task_id,
        retries=t.retries,
        outlets=[*(Asset(uri) for uri in t.outlets), *(AssetAlias(a) for a in t.alias_outlets)],
        doc_md=t.doc,
        map_index_template=template,
        multiple_outputs=False,  # one XCom per task; steps return plain JSON (dicts or lists)
        trigger_rule=t.trigger_rule or "all_success",
    )
    def run(**inputs: Any) -> Any:
        from airfoil.airflow.execute import execute

        return execute(step, spec_path, names, outlets, inputs)

    return run
