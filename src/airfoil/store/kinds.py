"""The store's names that need no database library: what a batch is, its status, where a profile's rows
were scored, and the column order of prediction and profile rows (`schema` holds the tables)."""

from __future__ import annotations

from enum import StrEnum

VERSION_TABLE = "airfoil_alembic_version"  # the store's Alembic version table (`migrate`)
# The newest migration's revision (tests/unit/store/test_db.py checks it against Alembic's head): a
# store already there is opened without importing Alembic, which a batch task's cold start feels.
HEAD = "0002"


class BatchKind(StrEnum):
    """What one row of `airfoil_batches` is."""

    block = "block"  # an input block of a `<name>__batch_predict` run
    file = "file"  # a file scored by `airfoil predict`
    request = "request"  # a transient request


class ProfileSource(StrEnum):
    """Where the rows of a stored profile were scored."""

    block = "block"
    file = "file"
    request = "request"
    api = "api"


class BatchStatus(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"

    @property
    def terminal(self) -> bool:
        """Nothing will change the batch any more."""
        return self in (BatchStatus.done, BatchStatus.failed)


# Column order of the Arrow tables `PredictionStore.write_chunk` takes.
PREDICTION_COLUMNS = ("row_index", "row_id", "model_version", "prediction", "probabilities", "rejected")

PROFILE_COLUMNS = (
    "profile_key",
    "reference",
    "model_version",
    "source",
    "batch_id",
    "rows",
    "scored_at",
    "profile",
)
