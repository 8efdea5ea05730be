"""ADBC without its DB-API layer: the few calls the store's bulk path makes (a statement with its
parameters, its rows back, an Arrow ingest, transactions) on `adbc_driver_manager`'s own objects.

`adbc_driver_manager.dbapi` imports `pyarrow.dataset`, and that imports pandas (pyarrow builds a
scalar at import, which looks for pandas): 0.3 s of a scoring process's cold start for nothing the
store uses. The calls below are the ones the DB-API layer makes for them, without it: parameters
bound as one Arrow row named "0", "1", ..., results read through an Arrow stream.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pyarrow as pa

IngestMode = Literal["append", "replace"]


class Connection:
    """One ADBC connection (and its database), autocommit off: `commit` / `rollback` end a transaction."""

    def __init__(self, db: Any, conn: Any):
        self._db, self._conn = db, conn

    @classmethod
    def open(cls, dialect: str, target: str, *, autocommit: bool = False) -> Connection:
        """A connection to an SQLite file (`target` its path) or PostgreSQL (`target` a libpq URI)."""
        import adbc_driver_manager

        if dialect == "sqlite":
            import adbc_driver_sqlite as driver
        else:
            import adbc_driver_postgresql as driver  # type: ignore[no-redef]
        db = driver.connect(target)
        try:
            conn = adbc_driver_manager.AdbcConnection(db)
        except BaseException:
            db.close()
            raise
        connection = cls(db, conn)
        if not autocommit:
            connection.set_autocommit(False)
        return connection

    def cursor(self) -> Cursor:
        return Cursor(self._conn)

    def set_autocommit(self, enabled: bool) -> None:
        self._conn.set_autocommit(enabled)

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def close(self) -> None:
        try:
            self._conn.close()
        finally:
            self._db.close()


class Cursor:
    """One statement handle: `execute` a query with positional parameters, then `fetchall` its rows."""

    def __init__(self, conn: Any):
        import adbc_driver_manager

        self._stmt = adbc_driver_manager.AdbcStatement(conn)
        self._handle: Any = None  # the last query's result stream, not read yet
        self._reader: pa.RecordBatchReader | None = None

    def execute(self, sql: str, parameters: tuple[Any, ...] | list[Any] | None = None) -> Cursor:
        import adbc_driver_manager
        import pyarrow as pa

        self._clear()
        self._stmt.set_sql_query(sql)
        with contextlib.suppress(adbc_driver_manager.NotSupportedError):  # not every driver prepares
            self._stmt.prepare()
        if parameters:
            names = [str(i) for i in range(len(parameters))]
            self._stmt.bind(pa.record_batch([[p] for p in parameters], names=names))
        self._handle, _ = self._stmt.execute_query()
        return self

    @property
    def description(self) -> list[tuple[str, Any, None, None, None, None, None]]:
        """(name, Arrow type, ...) of each column of the last query's result."""
        return [(f.name, f.type, None, None, None, None, None) for f in self._result().schema]

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The last query's remaining rows, as tuples of Python values."""
        table = self._result().read_all()
        columns = [column.to_pylist() for column in table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def adbc_ingest(self, table: str, data: pa.Table, mode: IngestMode, *, temporary: bool = False) -> int:
        """Write `data` into `table` (`replace` drops and creates it first); the rows written."""
        import adbc_driver_manager

        self._clear()
        options = adbc_driver_manager.StatementOptions
        self._stmt.set_options(
            **{
                options.INGEST_TARGET_TABLE.value: table,
                options.INGEST_MODE.value: f"adbc.ingest.mode.{mode}",
            }
        )
        try:
            self._stmt.set_options(**{options.INGEST_TEMPORARY.value: "true" if temporary else "false"})
        except adbc_driver_manager.NotSupportedError:  # "false" is the default; not every driver takes it
            if temporary:
                raise
        self._stmt.bind_stream(data)
        rows: int = self._stmt.execute_update()
        return rows

    def close(self) -> None:
        self._clear()
        self._stmt.close()

    def _result(self) -> pa.RecordBatchReader:
        if self._reader is None:
            if self._handle is None:
                raise RuntimeError("no result: execute a query first")
            import pyarrow as pa

            handle, self._handle = self._handle, None
            self._reader = pa.RecordBatchReader._import_from_c(handle.address)
        return self._reader

    def _clear(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        elif self._handle is not None:
            handle, self._handle = self._handle, None
            handle.release()
