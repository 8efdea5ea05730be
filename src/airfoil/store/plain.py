"""The prediction store as a scoring process opens it: no SQLAlchemy, no Alembic (0.4 s of a cold start).

The ledger's few statements (open a batch, start, finish) and the bulk writes go through one ADBC
connection (`store.bulk.BulkLoader`), so a scoring process talks to SQLite through one SQLite library
only (ADBC's own; two libraries on one file do not see each other's POSIX locks). The schema is
checked by reading its revision; a store that is not at `migrate.HEAD` yet is upgraded once through
SQLAlchemy and Alembic (`db.open_store`), which are closed before the plain store connects.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airfoil.store.bulk import BulkLoader, Dialect
from airfoil.store.kinds import HEAD, VERSION_TABLE, BatchKind, BatchStatus
from airfoil.store.ledger import Batch, PerUrl, StoreError, batch_from, unavailable

if TYPE_CHECKING:
    import pyarrow as pa

    from airfoil.settings import Settings

COLUMNS = (
    "id, pipeline, kind, batch_key, status, source, fingerprint, model_version, rows_total, rows_scored, "
    "rows_rejected, chunks_done, dag_id, dag_run_id, lineage, classes, error, created_at, updated_at"
)
RESET = {"rows_total": 0, "rows_scored": 0, "rows_rejected": 0, "chunks_done": 0}


class PlainStore:
    """The ledger statements and bulk writes that scoring needs, on one ADBC connection."""

    def __init__(self, url: str):
        self.dialect, self.target = parse_url(url)
        self.url = url
        self._bulk = BulkLoader(self.dialect, self.target)

    # --- schema ----------------------------------------------------------------------------------
    def revision(self) -> str | None:
        """The schema revision the database is at (None: no schema yet)."""
        try:
            rows = self._rows(f"SELECT version_num FROM {VERSION_TABLE}")
        except Exception as exc:
            if "does not exist" in str(exc) or "no such table" in str(exc):
                return None
            raise
        return str(rows[0]["version_num"]) if rows else None

    # --- batches ---------------------------------------------------------------------------------
    def batch(self, pipeline: str, kind: BatchKind, key: str) -> Batch | None:
        rows = self._rows(
            f"SELECT {COLUMNS} FROM airfoil_batches WHERE pipeline = ? AND kind = ? AND batch_key = ?",
            pipeline,
            str(kind),
            key,
        )
        return batch_from(rows[0]) if rows else None

    def batch_by_id(self, batch_id: int) -> Batch:
        rows = self._rows(f"SELECT {COLUMNS} FROM airfoil_batches WHERE id = ?", int(batch_id))
        if not rows:
            raise StoreError(f"no batch with id {batch_id} in the prediction store")
        return batch_from(rows[0])

    def open_batch(self, pipeline: str, kind: BatchKind, key: str, **fields: Any) -> tuple[Batch, bool]:
        """The batch (pipeline, kind, key), created as `pending` with `fields` if new; (batch, created)."""
        existing = self.batch(pipeline, kind, key)
        if existing is not None:
            return existing, False
        values = {"pipeline": pipeline, "kind": str(kind), "batch_key": key, "status": "pending", **fields}
        names = list(values)
        now, now_args = self._now()
        sql = (
            f"INSERT INTO airfoil_batches ({', '.join(names)}, created_at, updated_at) "
            f"VALUES ({', '.join(self._marks(names))}, {now}, {now}) "
            "ON CONFLICT (pipeline, kind, batch_key) DO NOTHING"
        )
        self._execute(sql, *[self._value(values[n]) for n in names], *now_args, *now_args)
        created = self.batch(pipeline, kind, key)
        assert created is not None
        # Ours if nobody else created it between the read and the insert (the conflict did nothing).
        return created, created.status == BatchStatus.pending and created.rows_total == 0

    def has_source(self, pipeline: str, kind: BatchKind, source: str) -> bool:
        """Whether any batch of `pipeline` and `kind` was opened for `source` (a file's path)."""
        sql = "SELECT 1 FROM airfoil_batches WHERE pipeline = ? AND kind = ? AND source = ? LIMIT 1"
        return bool(self._rows(sql, pipeline, str(kind), source))

    def start(self, batch_id: int, restart: bool, **fields: Any) -> Batch:
        """Mark a batch running. With `restart`, drop what an earlier attempt stored and count from zero."""
        values = {"status": "running", "error": None, **fields, **(RESET if restart else {})}
        statements = []
        if restart:
            statements = [
                ("DELETE FROM airfoil_predictions WHERE batch_id = ?", (int(batch_id),)),
                ("DELETE FROM airfoil_profiles WHERE batch_id = ?", (int(batch_id),)),
            ]
        self._update(batch_id, values, before=statements)
        return self.batch_by_id(batch_id)

    def finish(self, batch_id: int, status: BatchStatus, **fields: Any) -> Batch:
        """Set the final status (done / failed) and any other fields (error, rows_total)."""
        self._update(batch_id, {"status": str(status), **fields})
        return self.batch_by_id(batch_id)

    def update(self, batch_id: int, **fields: Any) -> None:
        """Set fields of a batch without changing its status."""
        self._update(batch_id, fields)

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
        """One chunk of predictions (and its profile) with the batch's counters, in one transaction
        (`store.bulk.BulkLoader.write_chunk`)."""
        self._bulk.write_chunk(batch_id, rows, chunk, done=done, profile=profile, fresh=fresh)

    def close(self) -> None:
        self._bulk.close()

    # --- statements ------------------------------------------------------------------------------
    def _update(
        self, batch_id: int, values: dict[str, Any], before: list[tuple[str, tuple[Any, ...]]] | None = None
    ) -> None:
        names = list(values)
        now, now_args = self._now()
        sets = ", ".join(f"{n} = {m}" for n, m in zip(names, self._marks(names), strict=True))
        sql = f"UPDATE airfoil_batches SET {sets}, updated_at = {now} WHERE id = ?"
        args = (*[self._value(values[n]) for n in names], *now_args, int(batch_id))
        with self._bulk.cursor() as cur:
            for statement, params in [*(before or []), (sql, args)]:
                cur.execute(self._sql(statement), params)

    def _execute(self, sql: str, *args: Any) -> None:
        with self._bulk.cursor() as cur:
            cur.execute(self._sql(sql), args)

    def _rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        with self._bulk.cursor() as cur:
            cur.execute(self._sql(sql), args or None)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def _sql(self, sql: str) -> str:
        """`?` marks as the driver takes them ($1, $2, ... on PostgreSQL)."""
        if self.dialect == "sqlite" or "?" not in sql:
            return sql
        parts = sql.split("?")
        return "".join(f"{p}${i}" for i, p in enumerate(parts[:-1], 1)) + parts[-1]

    def _marks(self, names: list[str]) -> list[str]:
        """A mark per column; JSON columns cast from text on PostgreSQL."""
        if self.dialect == "sqlite":
            return ["?"] * len(names)
        return ["CAST(? AS json)" if n in ("lineage", "classes") else "?" for n in names]

    def _now(self) -> tuple[str, tuple[Any, ...]]:
        """The current time as SQL and its parameters, stored the way SQLAlchemy reads it back."""
        if self.dialect == "sqlite":
            return "?", (datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" "),)
        return "now()", ()

    @staticmethod
    def _value(value: Any) -> Any:
        if isinstance(value, (list, dict)):
            return json.dumps(value)
        if isinstance(value, BatchStatus | BatchKind):
            return str(value)
        return value


def parse_url(url: str) -> tuple[Dialect, str]:
    """(dialect, SQLite path or libpq URI) of a store URL, the same URLs `db.PredictionStore` takes."""
    scheme, sep, rest = url.partition("://")
    backend = scheme.split("+", 1)[0]
    if not sep or backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"AIRFOIL_STORE_URL: the prediction store runs on sqlite:/// or postgresql:// URLs, not {url!r}"
        )
    if backend == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path or path == ":memory:":
            raise StoreError("AIRFOIL_STORE_URL: an SQLite store needs a file path (sqlite:///path.db)")
        return "sqlite", path
    return "postgresql", f"postgresql://{rest}"


def _opened(url: str) -> PlainStore:
    store = PlainStore(url)
    if store.dialect == "sqlite":
        Path(store.target).parent.mkdir(parents=True, exist_ok=True)
    try:
        at = store.revision()
    except StoreError:
        raise
    except Exception as exc:
        raise unavailable(shown_url(url), exc) from exc
    if at == HEAD:
        return store
    store.close()  # no connection of ADBC's SQLite open while SQLAlchemy's migrates the file
    from airfoil.store import db

    migrated = db.PredictionStore(url)
    try:
        migrated.upgrade()
    finally:
        migrated.close()
    return PlainStore(url)


def shown_url(url: str) -> str:
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        rest = f"{user}:***@{rest.split('@', 1)[1]}"
    return f"{scheme}{sep}{rest}"


_stores = PerUrl(_opened)


def open_plain_store(settings: Settings) -> PlainStore:
    """The process's plain store for `settings.store_url`, its schema at the newest revision."""
    return _stores.get(settings.store_url)


def close_plain_stores() -> None:
    """Close every store `open_plain_store` opened in this process."""
    _stores.close_all()
