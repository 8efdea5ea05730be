"""The Models view's page (inside the Airflow UI): one card per pipeline with its champion and metrics,
its versions, promotion history, drift status and last monitor run, and links to the report, the MLflow
runs and the Airflow DAG runs."""

from __future__ import annotations

from html import escape
from typing import Any

from airfoil.report.page import CSS
from airfoil.report.sections import airflow_link, mlflow_link

EXTRA_CSS = ".cards{display:grid;gap:14px}.row{display:flex;gap:18px;flex-wrap:wrap;align-items:baseline}"


def render_models(items: list[dict[str, Any]], user: str) -> str:
    cards = "".join(_card(m) for m in items) or (
        "<section><p class='muted'>No trained pipelines yet: run <code>airfoil run pipeline.yaml</code> "
        "or trigger a pipeline's <code>__train</code> DAG.</p></section>"
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>airfoil models</title>"
        f"<style>{CSS}{EXTRA_CSS}</style></head><body><main id='models'>"
        f"<h2>Models <span class='muted'>· {len(items)} pipeline(s) · signed in as {escape(user)}</span></h2>"
        f"<div class='cards'>{cards}</div></main></body></html>"
    )


def _card(m: dict[str, Any]) -> str:
    name, champion = m["name"], m["champion"]
    versions = m["versions"]
    champ = next((v for v in versions if v["version"] == champion), None)
    metrics = (
        " ".join(
            f"<span class='tag'>{escape(k)} {val:.4f}</span>" for k, val in sorted(champ["metrics"].items())
        )
        if champ
        else "<span class='muted'>no champion yet</span>"
    )
    rows = "".join(_version_row(m["links"], v) for v in versions[:10])
    history = " → ".join(f"v{v}" for v in m["history"]) or "none"
    report = f"<a class='report' href='models/{escape(name)}/report'>open the report</a>"
    airflow = escape(m["links"].get("airflow") or "")
    runs = f"<a href='{airflow}/dags/{escape(name)}__train/runs' target='_top'>train DAG runs</a>"
    return (
        f"<section class='model' id='model-{escape(name)}'><div class='row'><h2>{escape(name)}</h2>"
        f"<span class='champion'>champion {'v' + str(champion) if champion is not None else '—'}</span>"
        f"{report} · {runs}</div><p>{metrics}</p>"
        f"<p>drift: {_drift(m['monitor'])}</p><p>promotion history: {history}</p>"
        "<table><tr><th>version</th><th>registered</th><th>estimator</th><th>gate</th><th>reason</th>"
        f"<th>links</th></tr>{rows}</table></section>"
    )


def _version_row(links: dict[str, Any], v: dict[str, Any]) -> str:
    aliases = "".join(f" <span class='tag {a}'>{escape(a)}</span>" for a in v["aliases"])
    estimator = escape((v.get("estimator") or "?").rsplit(".", 1)[-1])
    return (
        f"<tr><td>v{v['version']}{aliases}</td><td>{escape(v['created_at'][:16])}</td>"
        f"<td><code>{estimator}</code></td><td>{_gate(v['promoted']['passed'])}</td>"
        f"<td class='muted'>{escape(v['promoted']['reason'][:160])}</td>"
        f"<td>{mlflow_link(links, v.get('run_id'))} · "
        f"{airflow_link(links, v['airflow']['dag_id'], v['airflow']['run_id'])}</td></tr>"
    )


def _drift(last: dict[str, Any] | None) -> str:
    if last is None:
        return "<span class='muted'>not monitored yet</span>"
    end = (last.get("window") or {}).get("end", "?")
    rows = last.get("rows", 0)
    if last.get("alert"):
        state = "<span class='bad'>alert</span>: " + escape("; ".join(last.get("reasons") or []))
    elif not last.get("decided", rows > 0):
        state = "<span class='muted'>too few rows to judge</span>"
    else:
        state = "<span class='ok'>no drift</span>"
    return f"{state} · last monitor run v{last.get('version')} until {escape(str(end))}, {rows} rows"


def _gate(passed: bool | None) -> str:
    if passed is None:
        return "<span class='muted'>not gated</span>"
    return "<span class='ok'>passed</span>" if passed else "<span class='bad'>failed</span>"
