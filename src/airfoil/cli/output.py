"""Tables and messages the CLI prints."""

from __future__ import annotations

import shlex
from typing import Any

from rich.console import Console
from rich.table import Table

from airfoil.plan import DagKind, dag_id
from airfoil.settings import Settings
from airfoil.spec.model import PipelineSpec

_SHOWN = {
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc"),
    "regression": ("rmse", "mae", "r2"),
}


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{value:.4f}"


def candidates_table(spec: PipelineSpec, evaluated: dict[str, Any]) -> Table:
    table = Table(title=f"{spec.name}: candidates (selected by CV {spec.metric})", title_justify="left")
    table.add_column("#")
    table.add_column("estimator", no_wrap=True)
    table.add_column("best params", overflow="fold", min_width=24)
    table.add_column(f"CV {spec.metric}", justify="right")
    for m in _SHOWN[spec.task]:
        table.add_column(f"test {m}", justify="right")
    for row in evaluated["candidates"]:
        chosen = row["candidate"] == evaluated["chosen"]
        params = ", ".join(f"{k}={v}" for k, v in row["best_params"].items()) or "defaults"
        table.add_row(
            ("★ " if chosen else "") + str(row["candidate"]),
            row["estimator"].rsplit(".", 1)[-1],
            params,
            f"{row['cv_score']:.4f} ± {row['cv_std']:.4f}",
            *(_fmt(row["test"].get(m)) for m in _SHOWN[spec.task]),
            style="bold" if chosen else None,
        )
    return table


def summary(
    console: Console, spec: PipelineSpec, settings: Settings, outcomes: dict[DagKind, Any], seconds: float
) -> None:
    """What the run produced (the outcome of each DAG it ran, by kind) and where to look."""
    console.print()
    if DagKind.prepare in outcomes:
        split = outcomes[DagKind.prepare].result("split") or {}
        if split:
            console.print(
                f"dataset [cyan]{split['fingerprint'][:12]}[/]: {split['train']['rows']} train rows, "
                f"{split['test']['rows']} test rows"
            )
    train = outcomes.get(DagKind.train)
    if train is not None:
        evaluated = train.result("evaluate")
        registered = train.result("register") or {}
        decision = train.result("promote") or {}
        if evaluated:
            console.print(candidates_table(spec, evaluated))
        if registered:
            note = " (already registered by this DAG run)" if registered.get("reused") else ""
            console.print(f"registered [bold]{spec.name} v{registered['version']}[/]{note}")
        if decision:
            if decision["promoted"]:
                console.print(
                    f"[green]v{decision['version']} is now champion[/]: {decision['reason']}", soft_wrap=True
                )
            else:
                champ = decision.get("champion")
                keep = f"champion stays v{champ}" if champ is not None else "there is no champion yet"
                console.print(
                    f"[yellow]v{decision['version']} did NOT become champion[/] ({keep}): "
                    f"{decision['reason']}",
                    soft_wrap=True,
                )
    batch = outcomes.get(DagKind.batch_predict)
    if batch is not None:
        done = batch.result("summarize")
        if done:
            console.print(
                f"batch: {done['blocks_scored']} new block(s) scored with v{done['model_version']} "
                f"({done['blocks_done_before']} scored before): {done['scored']:,} rows scored, "
                f"{done['rejected']:,} rejected -> prediction store {_store(settings)}",
                soft_wrap=True,
            )
    monitor = outcomes.get(DagKind.monitor)
    if monitor is not None and not (monitor.result("alert") or {}).get("retrain_triggered"):
        from airfoil.cli.monitor import show

        show(console, monitor.result("check") or {}, monitor.result("alert"))
    console.print(f"\ndone in {seconds:.1f}s. Where to look:")
    looks = where_to_look(
        settings, spec.name, transient=spec.deploy.mode == "transient", monitored=spec.monitor is not None
    )
    for label, cmd in looks:
        console.print(f"  {label:<11} {cmd}", soft_wrap=True)


def _store(settings: Settings) -> str:
    import sqlalchemy as sa

    return sa.make_url(settings.store_url).render_as_string(hide_password=True)


def where_to_look(
    settings: Settings, name: str, transient: bool = False, monitored: bool = False
) -> list[tuple[str, str]]:
    """Commands that open the MLflow and Airflow UIs on these results, and use the model."""
    home = shlex.quote(str(settings.home))
    looks = [
        ("MLflow UI", f"mlflow ui --backend-store-uri {settings.tracking_uri} --port 5000"),
        (
            "Airflow UI",
            f"AIRFOIL_HOME={home} airfoil up  # Airflow on :8080 (admin) with these runs and the Models view",
        ),
    ]
    if transient:
        looks += [
            ("serve", f"AIRFOIL_HOME={home} airfoil serve  # then POST /v1/models/{name}/transient"),
            (
                "one request",
                f"airfoil transient run <spec> --conf-file request.json  # {dag_id(name, DagKind.transient)}",
            ),
        ]
    else:
        looks += [
            ("registry", f"airfoil models list {name}"),
            ("serve", f"AIRFOIL_HOME={home} airfoil serve  # the champions over HTTP"),
            ("predict", f"airfoil predict {name} --input FILE  # score a file with the champion"),
            ("report", f"airfoil report {name}  # one HTML page: metrics, curves, importance, drift"),
        ]
    if monitored:
        looks.append(
            ("monitor", f"airfoil monitor {name}  # drift and live metrics since the last monitor run")
        )
    return [*looks, ("predictions", _store(settings)), ("artifacts", settings.artifact_root)]


def versions_table(name: str, versions: list[dict[str, Any]]) -> None:
    console = Console()
    table = Table(title=f"{name}: model versions", title_justify="left")
    for col in ("version", "aliases", "metrics", "created", "gate", "served by"):
        table.add_column(col, overflow="fold")
    for v in versions:
        metrics = ", ".join(
            f"{k} {val:.4f}"
            for k, val in sorted(v["metrics"].items())
            if "_" not in k or k in ("log_loss", "roc_auc")
        )
        gate = v["promoted"]
        mark = {True: "[green]passed[/]", False: "[red]failed[/]", None: "—"}[gate["passed"]]
        table.add_row(
            str(v["version"]),
            ", ".join(v["aliases"]),
            metrics,
            v["created_at"][:19],
            f"{mark}: {gate['reason']}",
            v.get("served_by") or "—",
        )
    console.print(table)
