"""A row of the block ledger (`airfoil_batches`) as Python sees it, and the store's errors: shared by
the SQLAlchemy store (`db`) and the plain one of scoring processes (`plain`), neither imported here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airfoil.errors import AirfoilError, Unavailable
from airfoil.store.kinds import BatchKind, BatchStatus


class StoreError(AirfoilError):
    """The prediction store cannot be reached or used as configured."""


class StoreUnavailable(StoreError, Unavailable):
    """The prediction store's database does not answer (down, restarting): a task retries it."""


@dataclass(frozen=True)
class Batch:
    """One row of `airfoil_batches`."""

    id: int
    pipeline: str
    kind: BatchKind
    batch_key: str
    status: BatchStatus
    source: str | None
    fingerprint: str | None
    model_version: int | None
    rows_total: int
    rows_scored: int
    rows_rejected: int
    chunks_done: int
    dag_id: str | None
    dag_run_id: str | None
    lineage: dict[str, Any] | None
    classes: list[Any] | None
    error: str | None
    created_at: datetime
    updated_at: datetime


def batch_from(data: dict[str, Any]) -> Batch:
    """A `Batch` from a row of `airfoil_batches` as a dict (times made aware: SQLite keeps no zone)."""
    import json

    data["kind"], data["status"] = BatchKind(data["kind"]), BatchStatus(data["status"])
    for k in ("created_at", "updated_at"):
        value = data[k]
        if isinstance(value, str):  # SQLite through a plain driver: ISO text
            value = datetime.fromisoformat(value)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        data[k] = value
    for k in ("lineage", "classes"):  # JSON columns read without SQLAlchemy's JSON type
        if isinstance(data[k], str):
            data[k] = json.loads(data[k])
    return Batch(**data)
