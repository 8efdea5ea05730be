"""The prediction store: batches (the block ledger, scored files, transient requests) and their
predictions, in SQLite or PostgreSQL through SQLAlchemy; rows arrive in bulk (`store.bulk`), the
schema is versioned with Alembic (`store.migrate`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from airfoil.store import migrate
from airfoil.store.bulk import BulkLoader
from airfoil.store.ledger import Batch, PerUrl, StoreError, batch_from, unavailable
from airfoil.store.schema import BatchKind, BatchStatus, batches, predictions, profiles

if TYPE_CHECKING:
    import pyarrow as pa

    from airfoil.settings import Settings


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
        # libpq takes the URL without SQLAlchemy's "+driver" part.
        target = (
            str(parsed.database)
            if self.dialect == "sqlite"
            else parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self._bulk = BulkLoader("sqlite" if self.dialect == "sqlite" else "postgresql", target)

    # --- schema ----------------------------------------------------------------------------------
    def upgrade(self) -> None:
        """Create or upgrade the schema to the newest revision (Alembic), once per database."""
        migrate.upgrade(self.engine)

    def revision(self) -> str | None:
        return migrate.revision(self.engine)

    # --- batches ---------------------------------------------------------------------------------
    def batch(self, pipeline: str, kind: BatchKind, key: str) -> Batch | None:
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
                sa.select(batches).where(
                    batches.c.kind == BatchKind.request, batches.c.batch_key == request_id
                )
            ).first()
        return _batch(row)

    def batches(self, pipeline: str, kind: BatchKind | None = None) -> list[Batch]:
        query = sa.select(batches).where(batches.c.pipeline == pipeline).order_by(batches.c.id)
        if kind is not None:
            query = query.where(batches.c.kind == kind)
        with self.engine.connect() as conn:
            return [b for b in map(_batch, conn.execute(query)) if b is not None]

    def open_batch(self, pipeline: str, kind: BatchKind, key: str, **fields: Any) -> tuple[Batch, bool]:
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
                        status=BatchStatus.pending,
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
            values: dict[str, Any] = {
                "status": BatchStatus.running,
                "error": None,
                "updated_at": _now(),
                **fields,
            }
            if restart:
                conn.execute(predictions.delete().where(predictions.c.batch_id == batch_id))
                conn.execute(profiles.delete().where(profiles.c.batch_id == batch_id))
                values |= {"rows_total": 0, "rows_scored": 0, "rows_rejected": 0, "chunks_done": 0}
            conn.execute(batches.update().where(batches.c.id == batch_id).values(**values))
        return self.batch_by_id(batch_id)

    def finish(self, batch_id: int, status: BatchStatus, **fields: Any) -> Batch:
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
        """Upsert one chunk of predictions and advance the batch's counters, in one transaction.

        `rows` has the columns of `schema.PREDICTION_COLUMNS`; `chunk` is its index in the block.
        With `done`, the batch is marked done in the same transaction (a transient request's
        predictions and its `done` status appear together or not at all). `profile` (a row of
        `airfoil_profiles`, see `monitoring.chunk_profile`) is stored in the same transaction too:
        a chunk's rows are counted exactly when they are stored.
        """
        self._bulk.write_chunk(batch_id, rows, chunk, done=done, profile=profile, fresh=fresh)

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
        self._bulk.close()
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA page_size = 16384")  # applies when the file is created: fewer B-tree splits
    cur.execute("PRAGMA journal_mode = WAL")  # readers (the API) never wait for a batch being written
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _batch(row: Any) -> Batch | None:
    return None if row is None else batch_from(dict(row._mapping))


def _opened(url: str) -> PredictionStore:
    store = PredictionStore(url)
    try:
        store.upgrade()
    except sa.exc.OperationalError as exc:
        raise unavailable(store.url.render_as_string(hide_password=True), exc.orig) from exc
    return store


_stores = PerUrl(_opened)


def open_store(settings: Settings) -> PredictionStore:
    """The process's store for `settings.store_url`, its schema upgraded to the newest revision."""
    return _stores.get(settings.store_url)


def close_all() -> None:
    """Close every store `open_store` (and `plain.open_plain_store`) opened in this process."""
    from airfoil.store.plain import close_plain_stores

    _stores.close_all()
    close_plain_stores()
