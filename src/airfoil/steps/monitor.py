"""The monitor step (`<name>__monitor`, task `check`): the champion's reference against the profiles
stored since the last monitor run, live metrics from labels that arrived, and the verdict.

The verdict is stored in the prediction store (the API's `GET /v1/models/{name}/monitor`), logged
to MLflow as metrics over time on the version's run, and returned as the task's result; the next
task (`airfoil.airflow.alerts`) sends the alert and emits the drift Asset when it says so.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from airfoil.artifacts import io
from airfoil.errors import DataError
from airfoil.monitor.check import check as verdict
from airfoil.monitor.check import no_rows
from airfoil.monitor.performance import live_metrics
from airfoil.monitor.profile import Profile, merge, text
from airfoil.monitor.reference import Reference, references
from airfoil.registry import runs
from airfoil.registry.client import client
from airfoil.registry.versions import champion_version, get_version
from airfoil.spec.monitor import Monitor
from airfoil.steps.context import StepContext
from airfoil.steps.profiling import dataset_reference
from airfoil.steps.readers import expand, format_of, query, read_frame
from airfoil.store import open_store
from airfoil.store.monitoring import (
    monitor_history,
    monitor_run_count,
    save_monitor_run,
    scored_rows,
    stored_profiles,
)

log = logging.getLogger("airfoil.monitor")


def check(ctx: StepContext) -> dict[str, Any]:
    """Compare what was scored since the last monitor run with the reference; store the verdict."""
    spec = _monitor_spec(ctx)
    name = ctx.spec.name
    store = open_store(ctx.settings)
    until = time.time()
    target = _target(ctx)
    if target is None:
        why = "no transient request scored yet" if ctx.spec.deploy.mode == "transient" else "no champion yet"
        return _nothing(ctx, None, None, until, f"{name} has {why}: nothing to monitor")
    version, reference, digest, run_id = target
    since = _since(ctx, store, version)
    stored = stored_profiles(store, name, digest, since, until, version=version)
    current = merge([Profile.from_json(p) for _, _, p in stored])
    if current is None or current.rows == 0:
        which = f"v{version}" if version is not None else "transient requests"
        return _nothing(ctx, version, since, until, f"no scored rows yet for {name} {which} in this window")
    metrics, labelled = _performance(ctx, reference, version, since, until) if spec.labels else (None, 0)
    result = {
        "pipeline": name,
        "version": version,
        "window": _window(since, until),
        **verdict(reference, current, spec, metrics),
        "performance_rows": labelled,
        "profiles": len(stored),
    }
    result["message"] = _message(result)
    save_monitor_run(store, name, ctx.run.run_id, result)
    if run_id is not None:
        _log_to_mlflow(ctx, store, run_id, version, result)
    (log.warning if result["alert"] else log.info)("airfoil monitor: %s", result["message"])
    return result


def _monitor_spec(ctx: StepContext) -> Monitor:
    if ctx.spec.monitor is None:
        raise DataError(f"pipeline {ctx.spec.name!r} has no monitor: section; add one to monitor it")
    return ctx.spec.monitor


def _target(ctx: StepContext) -> tuple[int | None, Reference, str, str | None] | None:
    """(version, reference, its sha256, the version's MLflow run) of what is monitored."""
    name = ctx.spec.name
    if ctx.spec.deploy.mode == "transient":
        found = transient_reference(ctx)
        return None if found is None else (None, *found, None)
    c = client(ctx.settings)
    version = champion_version(c, name)
    if version is None:
        return None
    mv = get_version(c, name, version)
    tags = mv.tags or {}
    if not tags.get("profile_uri"):
        raise DataError(
            f"{name} v{version} has no reference profile (it was registered before airfoil monitored "
            "models); train a new version to monitor it"
        )
    reference = references.get(tags["profile_uri"], tags["profile_sha256"])
    return version, reference, tags["profile_sha256"], mv.run_id


def transient_reference(ctx: StepContext) -> tuple[Reference, str] | None:
    """The reference of a transient pipeline's latest dataset (written by its first request)."""
    latest = ctx.pipeline_uri("dataset", "latest.json")
    if not io.exists(latest):
        return None
    return dataset_reference(ctx, io.read_json(latest)["fingerprint"])


def _since(ctx: StepContext, store: Any, version: int | None) -> float | None:
    """The window's start: the run's conf `since` (ISO time), else the end of the last monitor run."""
    raw = ctx.run.conf.get("since")
    if raw:
        try:
            when = datetime.fromisoformat(str(raw))
        except ValueError:
            raise DataError(f"since: {raw!r} is not an ISO date or time (e.g. 2026-11-27T08:00)") from None
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    # An Airflow retry of this DAG run recomputes the same window: its own earlier result is not "before".
    previous = monitor_history(store, ctx.spec.name, version, limit=1, exclude_run=ctx.run.run_id)
    return previous[0]["window"]["end_s"] if previous else None


def _window(since: float | None, until: float) -> dict[str, Any]:
    def iso(t: float | None) -> str | None:
        return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")

    return {"start": iso(since), "end": iso(until), "start_s": since, "end_s": until}


def _nothing(
    ctx: StepContext, version: int | None, since: float | None, until: float, why: str
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "pipeline": ctx.spec.name,
        "version": version,
        "window": _window(since, until),
        **no_rows(),
        "performance_rows": 0,
        "message": why,
    }
    if version is not None:
        save_monitor_run(open_store(ctx.settings), ctx.spec.name, ctx.run.run_id, result)
    log.info("airfoil monitor: %s", why)
    return result


def _performance(
    ctx: StepContext, reference: Reference, version: int | None, since: float | None, until: float
) -> tuple[dict[str, float] | None, int]:
    """Live metrics on the window's scored rows whose labels have arrived; (None, 0) if none have."""
    if version is None:
        return None, 0
    truth = read_labels(ctx)
    scored = scored_rows(open_store(ctx.settings), ctx.spec.name, version, since, until)
    joined = [(truth[row_id], predicted) for row_id, predicted in scored if row_id in truth]
    if not joined:
        return None, 0
    y, p = zip(*joined, strict=True)
    positive = None
    classes = reference.prediction_bins.categories
    if ctx.spec.task == "classification" and (len(classes) == 2 or ctx.spec.train.positive_class is not None):
        wanted = ctx.spec.train.positive_class
        positive = text(wanted) if wanted is not None else sorted(classes)[-1]
    return live_metrics(ctx.spec.task, y, p, positive), len(joined)


def read_labels(ctx: StepContext) -> dict[str, Any]:
    """Row key (as text) -> true value, from `monitor.labels` (files or a query)."""
    spec = _monitor_spec(ctx).labels
    assert spec is not None
    target = spec.target or ctx.spec.target
    if spec.sql is not None:
        from airfoil.spec.model import SqlSource

        frames = list(query(SqlSource(sql=spec.sql, conn=spec.conn or ""), "monitor.labels"))
    else:
        fs, paths = expand(spec.path or "")  # made absolute against the spec's folder when loaded
        frames = [read_frame(fs, p, format_of(p, spec.format, "monitor.labels.format")) for p in paths]
    truth: dict[str, Any] = {}
    for frame in frames:
        missing = [c for c in (spec.key, target) if c not in frame.columns]
        if missing:
            raise DataError(
                f"monitor.labels: the labels have no column(s) {missing}; they have {list(frame)}"
            )
        known = frame[frame[target].notna()]
        truth.update(zip(map(text, known[spec.key]), map(text, known[target]), strict=True))
    return truth


def _message(result: dict[str, Any]) -> str:
    which = "transient requests" if result["version"] is None else f"v{result['version']}"
    head = f"{result['pipeline']} {which}: {result['rows']} rows"
    if result["alert"]:
        return f"{head}, ALERT: " + "; ".join(result["reasons"])
    if not result["decided"]:
        return f"{head}, too few to judge drift (monitor.drift.min_rows)"
    return f"{head}, no drift ({result['drift_share']:.0%} of features drift)"


def _log_to_mlflow(
    ctx: StepContext, store: Any, run_id: str, version: int | None, result: dict[str, Any]
) -> None:
    metrics = {
        "monitor_rows": result["rows"],
        "monitor_drift_share": result["drift_share"],
        "monitor_alert": float(result["alert"]),
        **{f"monitor_psi_{f['name']}": f["psi"] for f in result["features"]},
        **{f"live_{k}": v for k, v in (result["performance"] or {}).items()},
    }
    step = monitor_run_count(store, ctx.spec.name, version) - 1  # this run is stored already
    runs.log_monitor_metrics(ctx.settings, run_id, metrics, step=step, at=result["window"]["end_s"])
