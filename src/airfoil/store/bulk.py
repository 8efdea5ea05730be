"""Bulk loads of prediction rows: Arrow chunks through ADBC (SQLite: prepared inserts in C;
PostgreSQL: binary COPY), in the same transaction as the batch's progress counters: a chunk is
stored with its progress or not at all. No Python runs per row.

A batch with no earlier rows (`fresh`) takes a chunk as a plain insert: straight into the table by
COPY on PostgreSQL, one `INSERT ... SELECT` from the staged chunk on SQLite. Otherwise (a resumed or
re-scored batch) the staged chunk is merged with `ON CONFLICT (batch_id, row_index) DO UPDATE`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from airfoil.store.kinds import PREDICTION_COLUMNS, PROFILE_COLUMNS, BatchStatus

if TYPE_CHECKING:
    import pyarrow as pa

    from airfoil.store.adbc import Connection, Cursor

Dialect = Literal["sqlite", "postgresql"]


class BulkLoader:
    """One ADBC connection to the store's database (an SQLite path or a libpq URI), used by one
    statement group at a time."""

    def __init__(self, dialect: Dialect, target: str):
        self.dialect, self.target = dialect, target
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def write_chunk(
        self,
        batch_id: int,
        rows: pa.Table,
        chunk: int,
        *,
        done: bool = False,
        profile: dict[str, Any] | None = None,
        fresh: bool = False,
    ) -> None:
        """Upsert one chunk of predictions (and its profile) and advance the batch's counters, in
        one transaction. `fresh`: the batch has no stored rows, so a plain insert does."""
        import pyarrow as pa

        rejected = rows.num_rows - rows["rejected"].null_count  # a reason: the row was rejected
        scored = rows.num_rows - rejected
        sets = {
            "rows_total": f"rows_total + {rows.num_rows}",
            "rows_scored": f"rows_scored + {scored}",
            "rows_rejected": f"rows_rejected + {rejected}",
            "chunks_done": str(chunk + 1),
            "updated_at": "CURRENT_TIMESTAMP",
        }
        if done:
            sets["status"] = f"'{BatchStatus.done}'"
        columns = ", ".join(PREDICTION_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in PREDICTION_COLUMNS[1:])
        chunk_rows = rows.select(list(PREDICTION_COLUMNS))
        with self.cursor() as cur:
            if fresh and self.dialect == "postgresql":  # COPY straight into the table
                ids = pa.array([int(batch_id)] * rows.num_rows, pa.int32())
                # Binary COPY takes the columns' exact types (integer, bigint, integer, text...).
                table = chunk_rows.add_column(0, "batch_id", ids).cast(_pg_types())
                cur.adbc_ingest("airfoil_predictions", table, mode="append")
            else:
                cur.adbc_ingest("airfoil_stage", chunk_rows, mode="replace", temporary=True)
                merge = "" if fresh else f" ON CONFLICT (batch_id, row_index) DO UPDATE SET {updates}"
                cur.execute(
                    f"INSERT INTO airfoil_predictions (batch_id, {columns}) "
                    f"SELECT {int(batch_id)}, {columns} FROM airfoil_stage WHERE true{merge}"
                )
            if profile is not None:
                _upsert_profile(cur, profile)
            assignments = ", ".join(f"{k} = {v}" for k, v in sets.items())
            cur.execute(f"UPDATE airfoil_batches SET {assignments} WHERE id = {int(batch_id)}")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

    @contextlib.contextmanager
    def cursor(self) -> Iterator[Cursor]:
        """A cursor, committed on success, rolled back on error."""
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            conn = self._conn
            cur = conn.cursor()
            try:
                yield cur
                conn.commit()
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.rollback()
                raise
            finally:
                cur.close()

    def _connect(self) -> Connection:
        from airfoil.store.adbc import Connection

        if self.dialect == "sqlite":
            # Pragmas need autocommit; transactions are then driven on the connection.
            conn = Connection.open("sqlite", self.target, autocommit=True)
            cur = conn.cursor()
            cur.execute("PRAGMA busy_timeout = 60000")
            cur.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no committed chunk
            cur.execute("PRAGMA cache_size = -65536")  # 64 MiB of pages for the predictions B-tree
            cur.execute("PRAGMA temp_store = MEMORY")  # the staging table of one chunk
            # Checkpoint the WAL every ~160 MiB instead of every 4 MiB: pages are copied back
            # in large sequential runs rather than after every chunk.
            cur.execute("PRAGMA wal_autocheckpoint = 10000")
            cur.close()
            conn.set_autocommit(False)
            return conn
        return Connection.open("postgresql", self.target)


def _pg_types() -> pa.Schema:
    import pyarrow as pa

    ints = {"batch_id": pa.int32(), "row_index": pa.int64(), "model_version": pa.int32()}
    return pa.schema([(c, ints.get(c, pa.string())) for c in ("batch_id", *PREDICTION_COLUMNS)])


def _upsert_profile(cur: Any, profile: dict[str, Any]) -> None:
    """One row of `airfoil_profiles` (`pipeline` and `PROFILE_COLUMNS`), replaced if its key exists."""
    import pyarrow as pa

    types = {
        "model_version": pa.int64(),
        "batch_id": pa.int64(),
        "rows": pa.int64(),
        "scored_at": pa.float64(),
    }
    names = ("pipeline", *PROFILE_COLUMNS)
    stage = pa.table({k: pa.array([profile[k]], types.get(k, pa.string())) for k in names})
    cur.adbc_ingest("airfoil_profile_stage", stage, mode="replace", temporary=True)
    columns = ", ".join(names)
    updates = ", ".join(f"{c} = excluded.{c}" for c in PROFILE_COLUMNS[1:])
    cur.execute(
        f"INSERT INTO airfoil_profiles ({columns}) SELECT {columns} FROM airfoil_profile_stage WHERE true "
        f"ON CONFLICT (pipeline, profile_key) DO UPDATE SET {updates}"
    )
