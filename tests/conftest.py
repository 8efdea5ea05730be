"""Shared test configuration: paths of the repository and its examples."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
# The machine's PostgreSQL (trust auth); .ci/services.sh starts it when it is installed and down.
POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def require_postgres() -> str:
    """POSTGRES if it answers; otherwise skip the calling test, loudly, with the reason."""
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(
            f"SKIPPED LOUDLY: PostgreSQL at 127.0.0.1:5432 (db test, user postgres) is not reachable "
            f"({exc.orig}); .ci/services.sh should start it"
        )
    finally:
        engine.dispose()
    return POSTGRES


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
