"""A row of the block ledger (`airfoil_batches`) as Python sees it, and the store's errors: shared by
the SQLAlchemy store (`db`) and the plain one of scoring processes (`plain`), neither imported here."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

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


class _Closable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=_Closable)


class PerUrl(Generic[S]):
    """The process's open stores of one kind, one per URL, each opened once by `opener` (they hold
    connections worth reusing)."""

    def __init__(self, opener: Callable[[str], S]) -> None:
        self._opener = opener
        self._open: dict[str, S] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> S:
        with self._lock:
            store = self._open.get(url)
            if store is None:
                store = self._open[url] = self._opener(url)
            return store

    def close_all(self) -> None:
        with self._lock:
            for store in self._open.values():
                store.close()
            self._open.clear()


def unavailable(shown_url: str, why: object) -> StoreUnavailable:
    """The error of a store whose database does not answer (`shown_url`: without its password)."""
    return StoreUnavailable(
        f"cannot open the prediction store {shown_url}: {why}; "
        "check AIRFOIL_STORE_URL and that the database is running"
    )
