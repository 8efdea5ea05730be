"""The train DAG's last step: gate the version this run registered; move `champion` only if it passes."""

from __future__ import annotations

from typing import Any

from airfoil.registry import promote as registry
from airfoil.registry.client import client
from airfoil.registry.versions import champion_version
from airfoil.steps.context import StepContext


def promote(ctx: StepContext, registered: dict[str, Any]) -> dict[str, Any]:
    """Apply the gate once per version (a retry finds the recorded decision), under the pipeline's
    lock; emit the model Asset only when the version became champion."""
    settings, name, version = ctx.settings, ctx.spec.name, int(registered["version"])
    decision = registry.decide(settings, ctx.spec, version)
    return {
        "name": name,
        "version": version,
        "promoted": decision.passed,
        "reason": decision.reason,
        "champion": champion_version(client(settings), name),
        "emit_outlets": decision.passed,
    }
