"""The gate and the `champion` alias: promote only what earned it; roll back to the previous champion."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airfoil.errors import AirfoilError, RegistryError
from airfoil.registry.client import CHAMPION, HISTORY_TAG, client
from airfoil.registry.versions import champion_history, champion_version, get_version
from airfoil.settings import Settings
from airfoil.spec.model import LOWER_IS_BETTER, PipelineSpec
from airfoil.store.lock import pipeline_lock


@dataclass(frozen=True)
class Decision:
    passed: bool
    reason: str


def gate(settings: Settings, spec: PipelineSpec, version: int) -> Decision:
    """Metric thresholds, then "beats the champion by δ", then "loads and predicts in the serving path"."""
    c = client(settings)
    mv = get_version(c, spec.name, version)
    m = json.loads((mv.tags or {}).get("test_metrics", "{}"))
    failures, passes = [], []
    for metric, low in spec.gate.min.items():
        value = m.get(metric)
        if value is None or value < low:
            failures.append(f"test {metric} {_fmt(value)} < min {low:g}")
        else:
            passes.append(f"test {metric} {value:.4f} ≥ {low:g}")
    for metric, high in spec.gate.max.items():
        value = m.get(metric)
        if value is None or value > high:
            failures.append(f"test {metric} {_fmt(value)} > max {high:g}")
        else:
            passes.append(f"test {metric} {value:.4f} ≤ {high:g}")
    champ = champion_version(c, spec.name)
    delta, metric = spec.gate.beat_champion_by, spec.metric
    if champ is not None and champ != version and delta is not None:
        cm = json.loads((get_version(c, spec.name, champ).tags or {}).get("test_metrics", "{}"))
        new, old = m.get(metric), cm.get(metric)
        if new is None or old is None:
            passes.append(f"champion v{champ} not compared: {metric} missing on one of the two versions")
        else:
            gain = (old - new) if metric in LOWER_IS_BETTER else (new - old)
            text = f"{metric} {new:.4f} vs champion v{champ} {old:.4f}"
            if gain >= delta:
                passes.append(f"{text} (gain {gain:+.4f} ≥ {delta:g})")
            else:
                failures.append(f"{text}: gain {gain:+.4f} is less than the required {delta:g}")
    elif champ is None:
        passes.append("no champion yet")
    if not failures:
        try:
            smoke(settings, spec.name, version)
            passes.append("loads and predicts")
        except AirfoilError as exc:
            failures.append(f"does not load/predict in the serving path: {exc}")
    if failures:
        return Decision(False, "; ".join(failures))
    return Decision(True, "; ".join(passes))


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4f}"


def smoke(settings: Settings, name: str, version: int) -> None:
    """Load a version exactly as `airfoil serve` does (every sha256, ONNX or scikit-learn) and predict
    its logged input example."""
    from airfoil.registry.loaded import load_model

    try:
        load_model(settings, name, version)
    except AirfoilError:
        raise
    except Exception as exc:
        raise RegistryError(f"predicting the input example failed: {exc}") from exc


def decide(settings: Settings, spec: PipelineSpec, version: int) -> Decision:
    """Gate `version` once (a retry finds the recorded decision) and promote or reject it, holding
    the pipeline's lock, so that two trainings finishing at once are gated one after the other."""
    with pipeline_lock(settings.store_url, spec.name):
        decision = recorded_decision(settings, spec.name, version)
        if decision is None:
            decision = gate(settings, spec, version)
            if decision.passed:
                _promote(settings, spec.name, version, decision.reason)
            else:
                reject(settings, spec.name, version, decision.reason)
    return decision


def promote(settings: Settings, name: str, version: int, reason: str) -> dict[str, Any]:
    """Point `champion` at `version` (it must load and predict) and record it in the history."""
    smoke(settings, name, version)
    with pipeline_lock(settings.store_url, name):
        return _promote(settings, name, version, reason)


def _promote(settings: Settings, name: str, version: int, reason: str) -> dict[str, Any]:
    c = client(settings)
    get_version(c, name, version)
    current = champion_version(c, name)
    history = champion_history(c, name)
    if current != version:
        history.append(version)
        c.set_registered_model_alias(name, CHAMPION, str(version))
        c.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history[-50:]))
    record_decision(c, name, version, True, reason)
    return {"name": name, "version": version, "previous": current, "promoted": True, "reason": reason}


def rollback(settings: Settings, name: str) -> dict[str, Any]:
    """Move `champion` back to the version that held it before the current one."""
    with pipeline_lock(settings.store_url, name):
        return _rollback(settings, name)


def _rollback(settings: Settings, name: str) -> dict[str, Any]:
    c = client(settings)
    current = champion_version(c, name)
    if current is None:
        raise RegistryError(f"model {name!r} has no champion; nothing to roll back")
    history = [v for v in champion_history(c, name) if v != current]
    if not history:
        raise RegistryError(
            f"model {name!r} v{current} is the only champion it has had; nothing to roll back to"
        )
    previous = history[-1]
    c.set_registered_model_alias(name, CHAMPION, str(previous))
    c.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    c.set_model_version_tag(name, str(current), "rolled_back_at", _now())
    return {"name": name, "version": previous, "previous": current}


def recorded_decision(settings: Settings, name: str, version: int) -> Decision | None:
    """The gate's decision already recorded on a version (a retried promote step), or None."""
    tags = get_version(client(settings), name, version).tags or {}
    if "gate_passed" not in tags:
        return None
    return Decision(tags["gate_passed"] == "true", tags.get("gate_reason", ""))


def reject(settings: Settings, name: str, version: int, reason: str) -> None:
    """Record that a version failed the gate; the champion stays where it is."""
    record_decision(client(settings), name, version, False, reason)


def record_decision(c: Any, name: str, version: int, passed: bool, reason: str) -> None:
    """The gate's decision on a version, as its tags (gate_passed, gate_reason, gate_at)."""
    c.set_model_version_tag(name, str(version), "gate_passed", "true" if passed else "false")
    c.set_model_version_tag(name, str(version), "gate_reason", reason[:4000])
    c.set_model_version_tag(name, str(version), "gate_at", _now())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
