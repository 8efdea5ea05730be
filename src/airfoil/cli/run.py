"""`airfoil validate` and `airfoil run`: check a spec; run its DAGs through Airflow with progress."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airfoil.errors import SpecError
from airfoil.plan import DagKind
from airfoil.spec.loader import check_imports, load_spec
from airfoil.spec.model import FileSource, PipelineSpec


def check_spec(path: Path) -> PipelineSpec:
    """Structure, imports and (for file sources) that the source matches files."""
    spec = load_spec(path)
    check_imports(spec, str(path))
    if isinstance(spec.source, FileSource):
        from airfoil.steps.readers import expand

        fs, paths = expand(spec.source.path)
        if not [p for p in paths if fs.exists(p)]:
            raise SpecError(str(path), [f"source.path: {spec.source.path!r} matches no file"])
    return spec


def run_pipeline(
    path: Path,
    only: DagKind | None,
    logical_date: datetime | None = None,
    *,
    monitor_conf: dict[str, Any] | None = None,
    as_json: bool = False,
) -> bool:
    """Run the pipeline's DAGs in order (or one of them); print progress, failures and the outcome.

    When the monitor's alert emits the drift Asset, prepare and train run next, as the scheduler
    would start them on that Asset. With `as_json` (one monitor run), only its verdict is printed.
    True if every DAG run succeeded."""
    from rich.console import Console

    from airfoil.airflow import embedded
    from airfoil.cli import background
    from airfoil.plan import build_plans
    from airfoil.settings import load_settings

    spec = check_spec(path)
    settings = load_settings()
    spec_path = path.resolve()
    embedded.configure(settings, [spec_path])
    api = background.while_airflow_starts(spec, train=only in (None, DagKind.train))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    log_path = settings.logs_dir / f"run-{spec.name}-{stamp}.log"
    # A transient DAG runs per request (the API triggers it), never as part of a pipeline run.
    plans = [
        p
        for p in build_plans(spec, str(spec_path))
        if p.kind != DagKind.transient and (only is None or p.kind == only)
    ]
    if not plans:
        section = "monitor:" if only == DagKind.monitor else "deploy:"
        raise SpecError(str(path), [f"pipeline {spec.name!r} has no {only} DAG; check {section} in the spec"])

    with embedded.captured_output(log_path) as terminal:
        # Not a terminal (CI, a pipe): wide enough that tables stay readable in a log.
        console = Console(
            file=terminal, highlight=False, width=None if terminal.isatty() else 200, quiet=as_json
        )
        console.print(
            f"[bold]airfoil[/] running [cyan]{spec.name}[/] through Airflow "
            f"(home {settings.home}); Airflow's log: {log_path}",
            soft_wrap=True,
        )
        started = time.perf_counter()
        with console.status("starting Airflow (metadata DB, DAG parse)..."):
            embedded.migrate(settings)
            from airfoil.airflow.render import render

            dags = [render(plan) for plan in plans]
            api.wait()
        outcomes: dict[DagKind, Any] = {}
        warm_registry: background.Warmup | None = None
        queue = list(zip(plans, dags, strict=True))
        while queue:
            plan, dag = queue.pop(0)
            if plan.kind == DagKind.train and warm_registry is None:
                warm_registry = background.Warmup("registry", lambda: background.after_training(settings))
            conf = monitor_conf if plan.kind == DagKind.monitor else None
            outcome = _run_with_progress(console, plan, dag, logical_date, conf, quiet=as_json)
            outcomes[plan.kind] = outcome
            if not outcome.ok:
                _show_failure(Console(file=terminal) if as_json else console, outcome, log_path)
                return False
            if plan.kind == DagKind.monitor:
                queue += _retraining(console, spec, spec_path, outcome, quiet=as_json)
        if as_json:
            return _print_json(terminal, outcomes)
        from airfoil.cli.output import summary

        summary(console, spec, settings, outcomes, time.perf_counter() - started)
    return True


def _retraining(console: Any, spec: PipelineSpec, spec_path: Path, outcome: Any, quiet: bool) -> list[Any]:
    """prepare and train, when the monitor emitted `airfoil://<name>/drift` (what the scheduler
    does with that Asset on a cluster; here nothing else would start them)."""
    alerted = outcome.result("alert") or {}
    if not alerted.get("retrain_triggered"):
        return []
    from airfoil.airflow.render import render
    from airfoil.plan import build_plans

    if not quiet:
        from airfoil.cli.monitor import show

        show(console, outcome.result("check"), alerted)
        console.print(f"[bold]{spec.name}[/]: drift alert -> retraining through prepare and train")
    wanted = (DagKind.prepare, DagKind.train)
    return [(p, render(p)) for p in build_plans(spec, str(spec_path)) if p.kind in wanted]


def _print_json(terminal: Any, outcomes: dict[DagKind, Any]) -> bool:
    import json

    monitor = outcomes[DagKind.monitor]
    result = dict(monitor.result("check") or {})
    alerted = monitor.result("alert") or {}
    result["alerts_sent"] = alerted.get("sent", [])
    if DagKind.train in outcomes:
        result["retrained_version"] = (outcomes[DagKind.train].result("register") or {}).get("version")
    terminal.write(json.dumps(result) + "\n")
    return True


def _run_with_progress(
    console: Any,
    plan: Any,
    dag: Any,
    logical_date: datetime | None,
    conf: dict[str, Any] | None = None,
    *,
    quiet: bool = False,
) -> Any:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from airfoil.airflow import embedded

    total = sum(len(t.expand) if t.expand is not None else 1 for t in plan.tasks)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} tasks"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=quiet,
    ) as progress:
        bar = progress.add_task(plan.dag_id, total=total)

        mapped = {t.task_id for t in plan.tasks if t.map_over is not None}

        def on_event(run: Any, state: str, detail: Any) -> None:
            label = run.task_id if run.map_index < 0 else f"{run.task_id}[{run.map_index}]"
            if state == "running" and run.task_id in mapped and run.map_index > 0:
                progress.update(bar, total=(progress.tasks[0].total or 0) + 1)  # one more block than counted
            if state == "running":
                progress.update(bar, description=f"{plan.dag_id} › {label}")
            elif state == "success":
                progress.advance(bar)
            else:
                progress.update(bar, description=f"{plan.dag_id} › {label} [red]failed[/]")

        outcome = embedded.run_dag(dag, on_event, logical_date, run_conf=conf)
        progress.update(
            bar,
            description=f"{plan.dag_id} [green]{outcome.state}[/]"
            if outcome.ok
            else f"{plan.dag_id} [red]{outcome.state}[/]",
        )
    return outcome


def _show_failure(console: Any, outcome: Any, log_path: Path) -> None:
    failed = outcome.failed() or [t for t in outcome.tasks if t.state == "failed"]
    console.print(f"\n[bold red]{outcome.dag_id} failed[/] (run {outcome.run_id})")
    for t in failed:
        label = t.task_id if t.map_index < 0 else f"{t.task_id}[{t.map_index}]"
        console.print(f"[red]task {label}:[/] {t.error or 'failed; see the log below'}", soft_wrap=True)
    console.print(f"Airflow's full log: {log_path}", soft_wrap=True)
