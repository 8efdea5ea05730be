"""Fixtures of the store's tests: a store on SQLite (in `tmp_path`) or the machine's PostgreSQL
(127.0.0.1:5432, db `test`, shared with other tests: each test uses a pipeline name of its own and
deletes only its rows; tables are never dropped)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from airfoil.store import PredictionStore
from tests.conftest import require_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'predictions.db'}"
    return require_postgres()


@pytest.fixture
def pipeline() -> str:
    return f"unit_store_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(store_url: str, pipeline: str) -> Iterator[PredictionStore]:
    store = PredictionStore(store_url)
    store.upgrade()
    try:
        yield store
    finally:
        with store.engine.begin() as conn:
            for table in ("airfoil_profiles", "airfoil_monitor_runs"):
                conn.execute(sa.text(f"delete from {table} where pipeline = :p"), {"p": pipeline})
            ids = "select id from airfoil_batches where pipeline = :p"
            conn.execute(
                sa.text(f"delete from airfoil_predictions where batch_id in ({ids})"), {"p": pipeline}
            )
            conn.execute(sa.text("delete from airfoil_batches where pipeline = :p"), {"p": pipeline})
        store.close()
