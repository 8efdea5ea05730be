"""Profiles of scored rows, where the rows already are: each scored chunk is counted in the bins of
its model's reference (`airfoil.monitor`) and stored with the chunk (`PredictionStore.write_chunk`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airfoil.artifacts import io
from airfoil.monitor.reference import Reference, references, write_reference

if TYPE_CHECKING:
    from airfoil.registry.loaded import LoadedModel
    from airfoil.steps.checks import Checked
    from airfoil.steps.context import StepContext
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


# --- transient pipelines: one reference per dataset ----------------------------------------------
def dataset_reference(
    ctx: StepContext, fingerprint: str, build: Callable[[], Reference] | None = None
) -> tuple[Reference, str] | None:
    """(reference, sha256) of one dataset of a transient pipeline: its train split and the test
    predictions of the first model trained on it. `build` writes it when it is missing (the first
    request on a dataset); every later request, and the monitor, read that one, so their profiles
    count in the same bins. None when it is missing and there is nothing to build it with."""
    uri = ctx.pipeline_uri("references", f"{fingerprint}.json")
    if not io.exists(uri):
        if build is None:
            return None
        write_reference(uri, build())
    return _read_reference(uri)


@functools.lru_cache(maxsize=16)
def _read_reference(uri: str) -> tuple[Reference, str]:
    """A dataset's reference is written once and never changed: read it once per process."""
    raw = io.read_bytes(uri)
    return Reference.loads(raw), io.sha256(raw)
