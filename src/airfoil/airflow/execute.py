"""What an airfoil task does when Airflow runs it: read the run's identity from Airflow's context,
call the step, and translate the outcome into Airflow's terms. Run time only: `render` (parse time)
imports this module inside the task body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airfoil.errors import AirfoilError, Unavailable
from airfoil.steps.context import RunInfo
from airfoil.steps.runner import run_step


def execute(step: str, spec_path: str, names: set[str], has_outlets: bool, inputs: dict[str, Any]) -> Any:
    """Run `step` with the upstream results among `inputs` named in `names`; its JSON result is the XCom.

    Bad spec or bad data (an `AirfoilError`) fails the task at once instead of retrying, except a
    service that does not answer now (`Unavailable`), which Airflow retries; a step that
    says there is nothing to publish (`emit_outlets: false`) skips, so its Asset is not emitted.
    """
    context = get_current_context()
    ti = context["ti"]
    info = RunInfo(
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        try_number=ti.try_number,
        map_index=ti.map_index if ti.map_index is not None else -1,
        max_tries=ti.max_tries,
        conf=dict(context["dag_run"].conf or {}),
    )
    # Airflow also passes its context as keyword arguments; keep only the step's own inputs.
    # Results of mapped upstream tasks arrive as lazy sequences; steps get plain lists.
    plain = {
        k: list(v) if isinstance(v, Sequence) and not isinstance(v, str | bytes) else v
        for k, v in inputs.items()
        if k in names
    }
    try:
        result = run_step(step, spec_path, info, plain)
    except Unavailable:
        raise  # a database restarting: Airflow retries the task
    except AirfoilError as exc:
        raise AirflowFailException(str(exc)) from exc
    if has_outlets and result.get("emit_outlets") is False:
        raise AirflowSkipException(result.get("reason", "nothing to publish"))
    return result
