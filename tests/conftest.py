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


# The longest test files, longest first. `make test` runs files in this order (`--dist loadfile
# --no-loadscope-reorder`): each of the two workers starts on a long file, and the many short ones
# (the rest of the integration files, then tests/unit) fill in at the end, so both finish together.
# (pytest-xdist's default order, most tests first, left the longest files, which have few tests,
# for last.) Every file not named here keeps its collection order, after these.
LONGEST_FIRST = (
    "tests/integration/test_cluster.py",
    "tests/integration/test_report.py",
    "tests/integration/test_monitor.py",
    "tests/integration/test_init.py",
    "tests/integration/test_batch.py",
    "tests/integration/test_transient_airflow.py",
    "tests/integration/test_registry_flow.py",
    "tests/integration/test_pipeline_e2e.py",
    "tests/integration/test_transient.py",
    "tests/integration/serving/test_api.py",
    "tests/integration/test_serving_fuzz.py",
    "tests/integration/test_hot_swap.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))  # stable


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
