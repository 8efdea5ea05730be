"""The prediction store: SQLAlchemy for the schema (Alembic) and small writes, Arrow bulk loads for rows.

Rows arrive in chunks of up to ~100k as Arrow tables. They are loaded into a temporary table with
ADBC (SQLite: prepared inserts in C; PostgreSQL: binary COPY) and merged with one
`INSERT ... SELECT ... ON CONFLICT (batch_id, row_index) DO UPDATE`, in the same transaction as
the batch's progress counters: a chunk is either stored with its progress or not at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from airfoil.errors import AirfoilError
from airfoil.store.schema import PREDICTION_COLUMNS, batches, predictions

if TYPE_CHECKING:
    import pyarrow as pa

    from airfoil.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


class StoreError(AirfoilError):
    """The prediction store cannot be reached or used as configured."""


@dataclass(frozen=True)
class Batch:
    """One row of `airfoil_batches`."""

    id: int
    pipeline: str
    kind: str
    batch_key: str
    status: str
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

    def describe(self) -> dict[str, Any]:
        """JSON-able summary."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["created_at"] = self.created_at.isoformat()
        out["updated_at"] = self.updated_at.isoformat()
        return out


def _now() -> datetime:
    return datetime.now(UTC)


class PredictionStore:
    """Predictions keyed by (pipeline, batch or request id, row), and the ledger of scored blocks."""

    def __init__(self, url: str):
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError:
            raise StoreError(f"AIRFOIL_STORE_URL={url!r} is not a database URL") from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise StoreError(
                f"AIRFOIL_STORE_URL: the prediction store runs on sqlite:/// or postgresql:// "
                f"URLs, not {self.dialect}"
            )
        self.url = parsed
        if self.dialect == "sqlite":
            if not parsed.database:
                raise StoreError("AIRFOIL_STORE_URL: an SQLite store needs a file path (sqlite:///path.db)")
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(parsed, connect_args={"timeout": 60})
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(parsed, pool_pre_ping=True)
        self._bulk: Any = None
        self._bulk_lock = threading.Lock()

    # --- schema ----------------------------------------------------------------------------------
    def upgrade(self) -> None:
        """Create or upgrade the schema to the newest revision (Alembic), once per database."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with self._migration_lock(), self.engine.begin() as conn:
            current = MigrationContext.configure(
                conn, opts={"version_table": "airfoil_alembic_version"}
            ).get_current_revision()
            if current == head:
                return
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(
                conn, opts={"version_table": "airfoil_alembic_version"}
            ).get_current_revision()

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """One migration at a time: a file lock beside an SQLite file, an advisory lock on PostgreSQL."""
        if self.dialect == "sqlite":
            with open(f"{self.url.database}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
        else:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_advisory_lock(74201)"))
                try:
                    yield
                finally:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(74201)"))
                    conn.commit()

    # --- batches ---------------------------------------------------------------------------------
    def batch(self, pipeline: str, kind: str, key: str) -> Batch | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(batches).where(
                    batches.c.pipeline == pipeline, batches.c.kind == kind, batches.c.batch_key == key
                )
            ).first()
        return _batch(row)

    def batch_by_id(self, batch_id: int) -> Batch:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(batches).where(batches.c.id == batch_id)).first()
        found = _batch(row)
        if found is None:
            raise StoreError(f"no batch with id {batch_id} in the prediction store")
        return found

    def request(self, request_id: str) -> Batch | None:
        """A transient request by its id, whatever the pipeline."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(batches).where(batches.c.kind == "request", batches.c.batch_key == request_id)
            ).first()
        return _batch(row)

    def batches(self, pipeline: str, kind: str | None = None) -> list[Batch]:
        query = sa.select(batches).where(batches.c.pipeline == pipeline).order_by(batches.c.id)
        if kind is not None:
            query = query.where(batches.c.kind == kind)
        with self.engine.connect() as conn:
            return [b for b in map(_batch, conn.execute(query)) if b is not None]

    def open_batch(self, pipeline: str, kind: str, key: str, **fields: Any) -> tuple[Batch, bool]:
        """The batch (pipeline, kind, key), created as `pending` with `fields` if new; (batch, created)."""
        existing = self.batch(pipeline, kind, key)
        if existing is not None:
            return existing, False
        now = _now()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    batches.insert().values(
                        pipeline=pipeline,
                        kind=kind,
                        batch_key=key,
                        status="pending",
                        created_at=now,
                        updated_at=now,
                        **fields,
                    )
                )
        except sa.exc.IntegrityError:  # created by a concurrent caller between the read and the insert
            found = self.batch(pipeline, kind, key)
            assert found is not None
            return found, False
        created = self.batch(pipeline, kind, key)
        assert created is not None
        return created, True

    def start(self, batch_id: int, restart: bool, **fields: Any) -> Batch:
        """Mark a batch running. With `restart`, drop what an earlier attempt stored and count from zero."""
        with self.engine.begin() as conn:
            values: dict[str, Any] = {"status": "running", "error": None, "updated_at": _now(), **fields}
            if restart:
                conn.execute(predictions.delete().where(predictions.c.batch_id == batch_id))
                values |= {"rows_total": 0, "rows_scored": 0, "rows_rejected": 0, "chunks_done": 0}
            conn.execute(batches.update().where(batches.c.id == batch_id).values(**values))
        return self.batch_by_id(batch_id)

    def finish(self, batch_id: int, status: str, **fields: Any) -> Batch:
        """Set the final status (done / failed) and any other fields (error, lineage, rows_total)."""
        with self.engine.begin() as conn:
            conn.execute(
                batches.update()
                .where(batches.c.id == batch_id)
                .values(status=status, updated_at=_now(), **fields)
            )
        return self.batch_by_id(batch_id)

    # --- predictions -----------------------------------------------------------------------------
    def update(self, batch_id: int, **fields: Any) -> None:
        """Set fields of a batch (lineage, classes, rows_total, ...) without changing its status."""
        with self.engine.begin() as conn:
            conn.execute(batches.update().where(batches.c.id == batch_id).values(updated_at=_now(), **fields))

    def write_chunk(self, batch_id: int, rows: pa.Table, chunk: int, *, done: bool = False) -> None:
        """Upsert one chunk of predictions and advance the batch's counters, in one transaction.

        `rows` has the columns of `schema.PREDICTION_COLUMNS`; `chunk` is its index in the block.
        With `done`, the batch is marked done in the same transaction (a transient request's
        predictions and its `done` status appear together or not at all).
        """
        import pyarrow.compute as pc

        rejected = int(pc.sum(pc.is_valid(rows["rejected"])).as_py() or 0)
        scored = rows.num_rows - rejected
        sets = {
            "rows_total": f"rows_total + {rows.num_rows}",
            "rows_scored": f"rows_scored + {scored}",
            "rows_rejected": f"rows_rejected + {rejected}",
            "chunks_done": str(chunk + 1),
            "updated_at": "CURRENT_TIMESTAMP",
        }
        columns = ", ".join(PREDICTION_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in PREDICTION_COLUMNS[1:])
        with self._bulk_cursor() as cur:
            cur.adbc_ingest(
                "airfoil_stage", rows.select(list(PREDICTION_COLUMNS)), mode="replace", temporary=True
            )
            cur.execute(
                f"INSERT INTO airfoil_predictions (batch_id, {columns}) "
                f"SELECT {int(batch_id)}, {columns} FROM airfoil_stage WHERE true "
                f"ON CONFLICT (batch_id, row_index) DO UPDATE SET {updates}"
            )
            assignments = ", ".join(f"{k} = {v}" for k, v in sets.items())
            if done:
                assignments += ", status = 'done'"
            cur.execute(f"UPDATE airfoil_batches SET {assignments} WHERE id = {int(batch_id)}")

    @contextlib.contextmanager
    def _bulk_cursor(self) -> Iterator[Any]:
        """A cursor on the bulk-load connection (ADBC), committed on success, rolled back on error."""
        with self._bulk_lock:
            if self._bulk is None:
                self._bulk = self._connect_bulk()
            conn = self._bulk
            cur = conn.cursor()
            try:
                yield cur
                conn.adbc_connection.commit()
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.adbc_connection.rollback()
                raise
            finally:
                cur.close()

    def _connect_bulk(self) -> Any:
        if self.dialect == "sqlite":
            import adbc_driver_sqlite.dbapi as adbc_sqlite

            # Pragmas need autocommit; transactions are then driven on the ADBC connection itself.
            conn = adbc_sqlite.connect(str(self.url.database), autocommit=True)
            cur = conn.cursor()
            cur.execute("PRAGMA busy_timeout = 60000")
            cur.execute(
                "PRAGMA synchronous = NORMAL"
            )  # safe with WAL: a crash loses no committed chunk's order
            cur.execute("PRAGMA cache_size = -65536")  # 64 MiB of pages for the predictions B-tree
            cur.execute("PRAGMA temp_store = MEMORY")  # the staging table of one chunk
            # Checkpoint the WAL every ~160 MiB instead of every 4 MiB: pages are copied back
            # in large sequential runs rather than after every chunk.
            cur.execute("PRAGMA wal_autocheckpoint = 10000")
            cur.close()
            conn.adbc_connection.set_autocommit(False)
            return conn
        import adbc_driver_postgresql.dbapi as adbc_pg

        # libpq takes the URL without SQLAlchemy's "+driver" part.
        uri = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return adbc_pg.connect(uri)

    def predictions(self, batch_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        """Stored rows of a batch in row order."""
        query = (
            sa.select(predictions)
            .where(predictions.c.batch_id == batch_id)
            .order_by(predictions.c.row_index)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def count(self, batch_id: int | None = None, pipeline: str | None = None) -> dict[str, int]:
        """Rows actually stored (scored and rejected) for a batch, or for every batch of a pipeline."""
        query = sa.select(
            sa.func.count().label("rows"),
            sa.func.count(predictions.c.rejected).label("rejected"),
        )
        if batch_id is not None:
            query = query.where(predictions.c.batch_id == batch_id)
        if pipeline is not None:
            query = query.join(batches, batches.c.id == predictions.c.batch_id).where(
                batches.c.pipeline == pipeline
            )
        with self.engine.connect() as conn:
            row = conn.execute(query).one()
        return {"rows": int(row.rows), "scored": int(row.rows - row.rejected), "rejected": int(row.rejected)}

    def close(self) -> None:
        with self._bulk_lock:
            if self._bulk is not None:
                with contextlib.suppress(Exception):
                    self._bulk.close()
                self._bulk = None
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA page_size = 16384")  # applies when the file is created: fewer B-tree splits
    cur.execute("PRAGMA journal_mode = WAL")  # readers (the API) never wait for a batch being written
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _batch(row: Any) -> Batch | None:
    if row is None:
        return None
    data = dict(row._mapping)
    for k in ("created_at", "updated_at"):
        if data[k] is not None and data[k].tzinfo is None:  # SQLite keeps no time zone
            data[k] = data[k].replace(tzinfo=UTC)
    return Batch(**data)


_STORES: dict[str, PredictionStore] = {}
_STORES_LOCK = threading.Lock()


def open_store(settings: Settings) -> PredictionStore:
    """The process's store for `settings.store_url`, its schema upgraded to the newest revision."""
    with _STORES_LOCK:
        store = _STORES.get(settings.store_url)
        if store is None:
            store = PredictionStore(settings.store_url)
            try:
                store.upgrade()
            except sa.exc.OperationalError as exc:
                raise StoreError(
                    f"cannot open the prediction store {store.url.render_as_string(hide_password=True)}: "
                    f"{exc.orig}; check AIRFOIL_STORE_URL and that the database is running"
                ) from exc
            _STORES[settings.store_url] = store
        return store
