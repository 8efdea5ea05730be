"""What the monitor keeps in the prediction store: profiles of scored rows and monitor runs.

Profiles of batch chunks are written by `PredictionStore.write_chunk` in the chunk's transaction;
`add_profile` writes the ones that have no chunk (an API flush). Profile JSON is opaque here:
`airfoil.monitor` reads and merges it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from airfoil.store.schema import BatchStatus, batches, monitor_runs, predictions, profiles

if TYPE_CHECKING:
    from airfoil.store.db import PredictionStore


def add_profile(store: PredictionStore, row: dict[str, Any]) -> bool:
    """Insert one `airfoil_profiles` row unless its (pipeline, profile_key) exists; True if inserted."""
    try:
        with store.engine.begin() as conn:
            conn.execute(profiles.insert().values(**row))
    except sa.exc.IntegrityError:
        return False
    return True


def stored_profiles(
    store: PredictionStore,
    pipeline: str,
    reference: str,
    since: float | None,
    until: float,
    *,
    version: int | None = None,
) -> list[tuple[float, int, str]]:
    """(scored_at, rows, profile JSON) of every profile counted in `reference`'s bins in (since, until],
    of rows scored by `version` when given (two versions may share a reference, not their rows)."""
    query = (
        sa.select(profiles.c.scored_at, profiles.c.rows, profiles.c.profile)
        .where(profiles.c.pipeline == pipeline, profiles.c.reference == reference)
        .where(profiles.c.scored_at <= until)
        .order_by(profiles.c.scored_at)
    )
    if since is not None:
        query = query.where(profiles.c.scored_at > since)
    if version is not None:
        query = query.where(profiles.c.model_version == version)
    with store.engine.connect() as conn:
        return [(float(r.scored_at), int(r.rows), r.profile) for r in conn.execute(query)]


def profile_count(store: PredictionStore, pipeline: str, batch_id: int | None = None) -> dict[str, int]:
    """Stored profiles and the rows they count, for a pipeline (or one batch of it)."""
    query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(profiles.c.rows), 0)).where(
        profiles.c.pipeline == pipeline
    )
    if batch_id is not None:
        query = query.where(profiles.c.batch_id == batch_id)
    with store.engine.connect() as conn:
        n, rows = conn.execute(query).one()
    return {"profiles": int(n), "rows": int(rows)}


def scored_rows(
    store: PredictionStore, pipeline: str, version: int, since: float | None, until: float
) -> list[tuple[str, str]]:
    """(row_id, prediction) of the rows `version` scored in done batches updated in (since, until],
    that have a row id (the spec's deploy.batch.key) and were not rejected."""
    query = (
        sa.select(predictions.c.row_id, predictions.c.prediction)
        .join(batches, batches.c.id == predictions.c.batch_id)
        .where(batches.c.pipeline == pipeline, batches.c.status == BatchStatus.done)
        .where(predictions.c.model_version == version)
        .where(predictions.c.row_id.is_not(None), predictions.c.rejected.is_(None))
        .where(batches.c.updated_at <= datetime.fromtimestamp(until, UTC))
    )
    if since is not None:
        query = query.where(batches.c.updated_at > datetime.fromtimestamp(since, UTC))
    with store.engine.connect() as conn:
        return [(r.row_id, r.prediction) for r in conn.execute(query)]


def save_monitor_run(store: PredictionStore, pipeline: str, run_key: str, result: dict[str, Any]) -> None:
    """Store a monitor run's result; the same run again (an Airflow retry) replaces it."""
    window = result.get("window") or {}
    values = {
        "model_version": result.get("version"),
        "window_start": window.get("start_s"),
        "window_end": window["end_s"],
        "rows": int(result.get("rows") or 0),
        "alert": bool(result.get("alert")),
        "result": json.dumps(result),
        "created_at": datetime.now(UTC),
    }
    with store.engine.begin() as conn:
        updated = conn.execute(
            monitor_runs.update()
            .where(monitor_runs.c.pipeline == pipeline, monitor_runs.c.run_key == run_key)
            .values(**values)
        )
        if updated.rowcount == 0:
            conn.execute(monitor_runs.insert().values(pipeline=pipeline, run_key=run_key, **values))


def monitor_run_count(store: PredictionStore, pipeline: str, version: int | None) -> int:
    """How many monitor runs of a pipeline (of one version) are stored."""
    query = sa.select(sa.func.count()).select_from(monitor_runs).where(monitor_runs.c.pipeline == pipeline)
    if version is not None:
        query = query.where(monitor_runs.c.model_version == version)
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def monitor_history(
    store: PredictionStore,
    pipeline: str,
    version: int | None = None,
    limit: int = 100,
    *,
    exclude_run: str | None = None,
) -> list[dict[str, Any]]:
    """The latest monitor results of a pipeline (of one version; but `exclude_run`), newest first."""
    query = (
        sa.select(monitor_runs.c.result)
        .where(monitor_runs.c.pipeline == pipeline)
        .order_by(monitor_runs.c.window_end.desc(), monitor_runs.c.id.desc())
        .limit(limit)
    )
    if version is not None:
        query = query.where(monitor_runs.c.model_version == version)
    if exclude_run is not None:
        query = query.where(monitor_runs.c.run_key != exclude_run)
    with store.engine.connect() as conn:
        return [json.loads(r.result) for r in conn.execute(query)]
