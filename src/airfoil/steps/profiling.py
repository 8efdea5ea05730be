"""Profiles of scored rows, where the rows already are: each scored chunk is counted in the bins of
its model's reference (`airfoil.monitor`) and stored with the chunk (`PredictionStore.write_chunk`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airfoil.monitor.reference import Reference, references

if TYPE_CHECKING:
    from airfoil.registry.loaded import LoadedModel
    from airfoil.steps.checks import Checked
    from airfoil.store.schema import ProfileSource


@dataclass(frozen=True)
class Profiler:
    """Counts the chunks of one scored input (a block, a file, a request) for the monitor."""

    reference: Reference
    digest: str  # sha256 of the reference: profiles merge only within one reference
    pipeline: str
    source: ProfileSource
    batch_id: int | None
    model_version: int | None

    def row(self, checked: Checked, labels: Any, row_start: int) -> dict[str, Any]:
        """The `airfoil_profiles` row of one chunk (good rows counted, rejected ones tallied)."""
        profile = self.reference.profile_chunk(checked.values, labels, checked.rejected)
        return {
            "pipeline": self.pipeline,
            "profile_key": f"{self.batch_id}:{row_start}",
            "reference": self.digest,
            "model_version": self.model_version,
            "source": self.source.value,
            "batch_id": self.batch_id,
            "rows": profile.rows,
            "scored_at": time.time(),
            "profile": profile.dumps(),
        }


def profiler_for(model: LoadedModel, source: ProfileSource, batch_id: int | None) -> Profiler | None:
    """A profiler for a registered version's chunks; None for a version registered before monitoring."""
    if model.reference is None:
        return None
    uri, digest = model.reference
    return Profiler(references.get(uri, digest), digest, model.name, source, batch_id, model.version)
