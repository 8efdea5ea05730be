"""`airfoil monitor NAME`: one monitor run through Airflow in this process, printed as a table or JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from airfoil.errors import AirfoilError


def find_pipeline(name: str) -> Any:
    """The spec file of pipeline `name` among the specs this home knows (AIRFOIL_PIPELINES, runs)."""
    from airfoil.settings import load_settings
    from airfoil.spec.catalog import find_spec

    found = find_spec(load_settings(), name)
    if found is None:
        raise AirfoilError(
            f"no pipeline named {name!r} is known here; run `airfoil run <its pipeline.yaml>` once "
            "or list its spec in AIRFOIL_PIPELINES"
        )
    return found[1]


def monitor_table(result: dict[str, Any]) -> Table:
    """One row per feature (and the predictions): test, statistic, p-value, PSI, verdict."""
    window = result.get("window") or {}
    which = "transient requests" if result["version"] is None else f"v{result['version']}"
    title = (
        f"{result['pipeline']} {which}: {result['rows']:,} rows scored "
        f"{window.get('start') or 'ever'} .. {window.get('end')}"
    )
    table = Table(title=title, title_justify="left")
    for col, justify in (
        ("feature", "left"),
        ("type", "left"),
        ("test", "left"),
        ("statistic", "right"),
        ("p-value (adj.)", "right"),
        ("threshold", "right"),
        ("PSI", "right"),
        ("JS", "right"),
        ("drift", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    rows = list(result["features"])
    if result.get("prediction_drift"):
        rows.append({**result["prediction_drift"], "name": "(predictions)"})
    for f in rows:
        p = f.get("p_adjusted", f.get("p_value"))
        table.add_row(
            f["name"],
            f["type"],
            f["test"],
            f"{f['statistic']:.4g}",
            "—" if p is None else f"{p:.3g}",
            f"{f['threshold']:g}",
            f"{f['psi']:.3f}",
            f"{f['js']:.3f}",
            "[red]DRIFT[/]" if f["drifted"] else "[green]ok[/]",
        )
    return table


def show(console: Console, result: dict[str, Any], alerted: dict[str, Any] | None) -> None:
    """The verdict: table, live metrics, alert and what it triggered."""
    if result["rows"] == 0:
        console.print(f"[yellow]{result['message']}[/]", soft_wrap=True)
        return
    console.print(monitor_table(result))
    share = f"{result['drift_share']:.0%} of features drift"
    dataset = "[red]dataset drift[/]" if result["dataset_drift"] else "no dataset drift"
    console.print(f"{dataset} ({share}, dataset drift at >= 50% by default)")
    if not result.get("decided", True):
        console.print(
            f"[yellow]only {result['rows']} rows: too few to judge drift (monitor.drift.min_rows)[/]"
        )
    if result.get("performance"):
        live = ", ".join(f"{k} {v:.4f}" for k, v in result["performance"].items())
        console.print(f"live metrics on {result['performance_rows']:,} labelled rows: {live}")
    elif result.get("performance_rows") == 0:
        console.print("live metrics: no labels for this window's rows yet")
    if result["alert"]:
        sent = ", ".join((alerted or {}).get("sent", [])) or "log only"
        console.print(f"[bold red]ALERT[/] ({sent}): " + "; ".join(result["reasons"]), soft_wrap=True)
    else:
        console.print("[green]no alert[/]")
    if result.get("retrain_triggered"):
        console.print("drift Asset emitted: retraining (prepare -> train)", soft_wrap=True)
