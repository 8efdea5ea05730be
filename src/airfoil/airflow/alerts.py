"""The monitor's `alert` task: on an alert, a log line, the spec's Airflow notifiers (HTTP webhook
through the HTTP provider's `HttpNotifier`, email through the SMTP provider's `SmtpNotifier`), and,
with `retrain_on_drift`, an event on `airfoil://<name>/drift` added through the task's AssetAlias:
an alias with no event added emits nothing, so undrifted data starts no retraining.

Connections are Airflow's (`AIRFLOW_CONN_<ID>`, the UI, a secrets backend): the spec names them.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from airflow.sdk import Asset, AssetAlias, get_current_context

from airfoil.plan.names import drift_alias, drift_asset
from airfoil.spec.monitor import Alert
from airfoil.steps.context import StepContext

log = logging.getLogger("airfoil.monitor")


def alert(ctx: StepContext, result: dict[str, Any]) -> dict[str, Any]:
    """Send the alert of a monitor run that raised one; emit the drift Asset when it triggers retraining."""
    name = ctx.spec.name
    if not result.get("alert"):
        return {"alerted": False, "sent": [], "retrain_triggered": False}
    log.warning("airfoil monitor ALERT: %s", result.get("message"))
    monitor = ctx.spec.monitor
    assert monitor is not None
    context: Any = get_current_context()
    sent = []
    for channel, notifier in _notifiers(monitor.alert, name, result):
        notifier(context)  # renders its templates, sends, raises if it cannot (the task retries)
        sent.append(channel)
    triggered = bool(result.get("retrain_triggered"))
    if triggered:
        context["outlet_events"][AssetAlias(drift_alias(name))].add(
            Asset(drift_asset(name)),
            extra={"version": result.get("version"), "reasons": result.get("reasons", [])},
        )
        log.warning("airfoil monitor: %s emitted: prepare -> train retrains %s", drift_asset(name), name)
    return {"alerted": True, "sent": sent, "retrain_triggered": triggered}


def _notifiers(alert: Alert, name: str, result: dict[str, Any]) -> list[tuple[str, Any]]:
    """(channel, Airflow notifier) for every channel the spec's `monitor.alert` names."""
    out: list[tuple[str, Any]] = []
    if alert.webhook is not None:
        from airflow.providers.http.notifications.http import HttpNotifier

        hook = alert.webhook
        out.append(
            (
                "webhook",
                HttpNotifier(
                    http_conn_id=hook.conn_id,
                    endpoint=hook.endpoint,
                    method=hook.method,
                    json=_payload(result),
                    headers={"Content-Type": "application/json"},
                ),
            )
        )
    if alert.email is not None:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        email = alert.email
        out.append(
            (
                "email",
                SmtpNotifier(
                    to=email.to,
                    from_email=email.from_email,
                    smtp_conn_id=email.conn_id,
                    subject=f"[airfoil] {name}: monitor alert",
                    html_content=_email(result),
                ),
            )
        )
    return out


def _payload(result: dict[str, Any]) -> dict[str, Any]:
    """What the webhook receives: the verdict without the per-feature detail of undrifted features."""
    keys = ("pipeline", "version", "window", "rows", "drift_share", "dataset_drift", "performance")
    return {
        "text": f"airfoil monitor alert: {result.get('message')}",
        **{k: result.get(k) for k in keys},
        "reasons": result.get("reasons", []),
        "drifted_features": [f for f in result.get("features", []) if f.get("drifted")],
        "retrain_triggered": bool(result.get("retrain_triggered")),
    }


def _email(result: dict[str, Any]) -> str:
    # Jinja renders the notifier's fields: keep braces from data out of the template.
    rows = "".join(
        f"<tr><td>{html.escape(f['name'])}</td><td>{f['test']}</td><td>{f['statistic']:.4g}</td>"
        f"<td>{f['psi']:.3f}</td></tr>"
        for f in result.get("features", [])
        if f.get("drifted")
    )
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in result.get("reasons", []))
    body = (
        f"<p>{html.escape(str(result.get('message')))}</p><ul>{reasons}</ul>"
        f"<table><tr><th>feature</th><th>test</th><th>statistic</th><th>PSI</th></tr>{rows}</table>"
    )
    return body.replace("{", "&#123;").replace("}", "&#125;")
