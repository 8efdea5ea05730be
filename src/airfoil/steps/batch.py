"""Batch scoring: find new input blocks, stream each through the champion in chunks, store every row.

A block is one input file (or one snapshot of a SQL query), identified by its name and the sha256
of its bytes. The ledger (`airfoil_batches`, kind "block") says which blocks are done; a block is
scored chunk by chunk and each chunk is stored together with the block's progress, so a retry
after a kill continues after the last stored chunk, and the upsert on (block, row) makes even a
full re-score leave exactly one prediction per row.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fsspec
import numpy as np

from airfoil.errors import AirfoilError, DataError
from airfoil.spec.model import Batch as BatchSpec
from airfoil.spec.model import SqlSource
from airfoil.steps.context import StepContext
from airfoil.steps.scoring import check_rows, missing_columns, prediction_table

if TYPE_CHECKING:
    import pyarrow as pa

    from airfoil.serving.loaded import Served
    from airfoil.settings import Settings
    from airfoil.spec.model import ColumnRule
    from airfoil.store import PredictionStore

log = logging.getLogger("airfoil.batch")

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "json"}


# --- the DAG's steps -------------------------------------------------------------------------------
def pin_champion(ctx: StepContext) -> dict[str, Any]:
    """The champion version now: every block of the run is scored with it, even if the alias moves."""
    return {"version": champion(ctx.settings, ctx.spec.name)}


def discover(ctx: StepContext) -> list[dict[str, Any]]:
    """Blocks of `deploy.batch.input` not scored yet: one mapped `score` task each."""
    from airfoil.store import open_store

    spec = _batch_spec(ctx)
    if isinstance(spec.input, SqlSource):
        found = [snapshot_query(ctx, spec.input)]
    else:
        found = list_files(spec.input, spec.format)
    store = open_store(ctx.settings)
    todo = []
    for block in found:
        entry, _ = store.open_batch(
            ctx.spec.name, "block", block["id"], source=block["uri"], fingerprint=block["fingerprint"]
        )
        if entry.status != "done":
            todo.append(block)
    log.info("airfoil: %d block(s) found, %d not scored yet", len(found), len(todo))
    return todo


def score(ctx: StepContext, model: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """Score one block with the pinned champion version; store every row (scored or rejected)."""
    from airfoil.store import open_store

    spec = _batch_spec(ctx)
    served = served_version(ctx.settings, ctx.spec.name, int(model["version"]))
    return score_source(
        open_store(ctx.settings),
        served,
        pipeline=ctx.spec.name,
        kind="block",
        key=block["id"],
        source=block["uri"],
        fingerprint=block["fingerprint"],
        fmt=block["format"],
        rules=ctx.spec.validation.columns,
        key_column=spec.key,
        chunk_rows=spec.chunk_rows,
        output=block["uri"] + ".predictions.parquet" if spec.write_parquet else None,
        dag_id=ctx.run.dag_id,
        dag_run_id=ctx.run.run_id,
    )


def summarize(ctx: StepContext, model: dict[str, Any], scored: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals of the run (blocks and rows scored / rejected) and of the ledger (blocks done before)."""
    from airfoil.store import open_store

    ledger = open_store(ctx.settings).batches(ctx.spec.name, "block")
    this_run = {s["block"] for s in scored}
    return {
        "model_version": model["version"],
        "blocks_scored": len(scored),
        "blocks_done_before": sum(1 for b in ledger if b.status == "done" and b.batch_key not in this_run),
        "rows": sum(s["rows"] for s in scored),
        "scored": sum(s["scored"] for s in scored),
        "rejected": sum(s["rejected"] for s in scored),
        "blocks": [
            {k: s[k] for k in ("block", "rows", "scored", "rejected", "resumed_at", "rows_per_s")}
            for s in scored
        ],
    }


def _batch_spec(ctx: StepContext) -> BatchSpec:
    if ctx.spec.deploy.batch is None:
        raise DataError(f"pipeline {ctx.spec.name!r} has no deploy.batch section: nothing to score")
    return ctx.spec.deploy.batch


# --- finding blocks ---------------------------------------------------------------------------------
def list_files(pattern: str, fmt: str | None = None) -> list[dict[str, Any]]:
    """Every file the path/glob/URL names, with its format and content fingerprint."""
    fs, _ = fsspec.core.url_to_fs(pattern)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    paths = sorted(fs.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
    paths = [p for p in paths if not str(p).endswith(".predictions.parquet")]
    blocks = []
    for path in paths:
        uri = path if "://" in str(path) or protocol in ("file", "local") else f"{protocol}://{path}"
        if not fs.exists(path):
            raise DataError(f"deploy.batch.input {pattern!r}: {path} does not exist")
        blocks.append(file_block(uri, fmt))
    return blocks


def file_block(uri: str, fmt: str | None = None) -> dict[str, Any]:
    """One file as a block: {id, name, uri, format, fingerprint}; the id changes when the bytes do."""
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    kind = fmt or _FORMATS.get("." + name.rsplit(".", 1)[-1].lower())
    if kind is None:
        raise DataError(f"cannot tell the format of {uri}; set deploy.batch.format to csv, parquet or json")
    fingerprint = sha256_file(uri)
    return {
        "id": f"{name}@{fingerprint[:16]}",
        "name": name,
        "uri": uri,
        "format": kind,
        "fingerprint": fingerprint,
    }


def sha256_file(uri: str) -> str:
    h = hashlib.sha256()
    with fsspec.open(uri, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def snapshot_query(ctx: StepContext, source: SqlSource) -> dict[str, Any]:
    """Run the query once, in chunks, into a Parquet snapshot: retries and re-runs score the same rows."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import sqlalchemy as sa

    from airfoil.steps.source import engine_url

    uri = ctx.uri("query.parquet")
    fs, path = fsspec.core.url_to_fs(uri)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    writer = None
    try:
        with fs.open(path + ".tmp", "wb") as sink, sa.create_engine(source.conn).connect() as conn:
            for frame in pd.read_sql(sa.text(source.sql), conn, chunksize=100_000):
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(sink, table.schema)
                writer.write_table(table.cast(writer.schema))
            if writer is None:
                raise DataError("deploy.batch.input.sql returned no columns")
            writer.close()
    except (DataError, pa.ArrowInvalid):
        raise
    except Exception as exc:
        raise DataError(f"deploy.batch.input.sql failed on {engine_url(source.conn)}: {exc}") from exc
    fs.mv(path + ".tmp", path)
    block = file_block(uri, "parquet")
    query = hashlib.sha256(source.sql.encode()).hexdigest()[:12]
    block["name"] = f"query-{query}"
    block["id"] = f"query-{query}@{block['fingerprint'][:16]}"
    return block


# --- the model --------------------------------------------------------------------------------------
def champion(settings: Settings, name: str) -> int:
    from airfoil.registry.client import client
    from airfoil.registry.versions import champion_version

    version = champion_version(client(settings), name)
    if version is None:
        raise DataError(
            f"model {name!r} has no champion to score with; train and promote one first "
            f"(airfoil run <spec>, or airfoil models promote {name} VERSION)"
        )
    return version


_SERVED: dict[tuple[str, str, int], Served] = {}


def served_version(settings: Settings, name: str, version: int) -> Served:
    """A version loaded for scoring (sha256-checked, smoke-tested), kept for the process's later blocks."""
    from airfoil.serving.loaded import load_served

    key = (settings.registry_uri, name, version)
    if key not in _SERVED:
        _SERVED[key] = load_served(settings, name, version)
    return _SERVED[key]


# --- scoring one source -----------------------------------------------------------------------------
@dataclass
class _Reader:
    columns: list[str]  # what the input has
    batches: Callable[[int], Iterator[pa.RecordBatch]]


def open_input(uri: str, fmt: str, wanted: list[str]) -> _Reader:
    """A chunked reader over `wanted` columns of a file (all of them it has)."""
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        fs, path = fsspec.core.url_to_fs(uri)
        local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))

        def parquet(rows: int) -> Iterator[pa.RecordBatch]:
            # Local files through Arrow's own reader (8x faster than a Python file object); row
            # group by row group and without pre-buffering, which would otherwise keep every row
            # group read so far in memory until the file is closed.
            with contextlib.ExitStack() as stack:
                source = path if local else stack.enter_context(fs.open(path, "rb"))
                pf = pq.ParquetFile(source, pre_buffer=False)
                cols = [c for c in wanted if c in pf.schema_arrow.names]
                for group in range(pf.num_row_groups):
                    yield from pf.iter_batches(batch_size=rows, row_groups=[group], columns=cols)

        with fs.open(path, "rb") as f:
            names = pq.ParquetFile(f).schema_arrow.names
        return _Reader(names, parquet)
    if fmt == "csv":
        import pyarrow.csv as pcsv

        with fsspec.open(uri, "rb") as f:
            header = f.readline().decode("utf-8", "replace")
        names = next(iter(__import__("csv").reader([header])), [])

        def csv(rows: int) -> Iterator[pa.RecordBatch]:
            # Everything as text: numbers are parsed per chunk, so one bad value rejects one row
            # instead of failing the file.
            options = pcsv.ConvertOptions(
                column_types={c: pa.string() for c in names},
                include_columns=[c for c in wanted if c in names],
                strings_can_be_null=True,
            )
            with fsspec.open(uri, "rb") as f:
                reader = pcsv.open_csv(
                    f, read_options=pcsv.ReadOptions(block_size=1 << 22), convert_options=options
                )
                yield from _rechunk(reader, rows)

        return _Reader(names, csv)
    import pandas as pd

    with fsspec.open(uri, "rb") as f:
        frame = pd.read_json(f, lines=uri.endswith(".jsonl"))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return _Reader(list(table.column_names), lambda rows: iter(table.to_batches(max_chunksize=rows)))


def _rechunk(batches: Any, rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches of exactly `rows` rows (the last one shorter), whatever size the reader yields."""
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    size = 0
    for b in batches:
        pending.append(b)
        size += b.num_rows
        while size >= rows:
            table = pa.Table.from_batches(pending).combine_chunks()
            yield table.slice(0, rows).to_batches()[0]
            pending, size = table.slice(rows).to_batches(), size - rows
    if size:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def score_source(
    store: PredictionStore,
    served: Served,
    *,
    pipeline: str,
    kind: str,
    key: str,
    source: str,
    fingerprint: str,
    fmt: str,
    rules: dict[str, ColumnRule] | None = None,
    key_column: str | None = None,
    chunk_rows: int = 100_000,
    output: str | None = None,
    dag_id: str | None = None,
    dag_run_id: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Score every row of one input and store it; resume after the last stored chunk of an earlier try.

    Reading and predicting chunk k+1 overlaps with storing chunk k (one writer thread, at most one
    chunk in flight), so memory holds about two chunks whatever the input's size.
    """
    started = time.perf_counter()
    batch, _ = store.open_batch(pipeline, kind, key, source=source, fingerprint=fingerprint)
    if batch.status == "done" and batch.model_version == served.version and output is None:
        log.info("airfoil: %s already scored by v%s", key, served.version)
        return _summary(
            batch.batch_key, batch.rows_total, batch.rows_scored, batch.rows_rejected, seconds=0.0, resumed=0
        )
    # Resume only what this version stored; a Parquet output is rewritten whole.
    resume = batch.rows_total if batch.model_version == served.version and output is None else 0
    batch = store.start(
        batch.id,
        restart=resume == 0,
        model_version=served.version,
        classes=served.classes,
        dag_id=dag_id,
        dag_run_id=dag_run_id,
    )
    wanted = served.column_names + ([key_column] if key_column else [])
    try:
        reader = open_input(source, fmt, list(dict.fromkeys(wanted)))
        missing = missing_columns(reader.columns, served.columns)
        if missing:
            raise DataError(f"{source} has no column(s) {missing}; the model takes {served.column_names}")
        if key_column and key_column not in reader.columns:
            raise DataError(f"deploy.batch.key: {source} has no column {key_column!r}")
        rows = _score_chunks(
            store,
            served,
            batch.id,
            reader,
            rules=rules,
            key_column=key_column,
            chunk_rows=chunk_rows,
            resume=resume,
            output=output,
            progress=progress,
        )
    except BaseException as exc:
        with contextlib.suppress(Exception):
            store.finish(batch.id, "failed", error=_reason(exc))
        raise
    done = store.finish(batch.id, "done", rows_total=rows)
    if resume:
        log.info("airfoil: %s resumed at row %d (stored by an earlier try)", key, resume)
    seconds = time.perf_counter() - started
    return _summary(
        done.batch_key, done.rows_total, done.rows_scored, done.rows_rejected, seconds=seconds, resumed=resume
    )


def _score_chunks(
    store: PredictionStore,
    served: Served,
    batch_id: int,
    reader: _Reader,
    *,
    rules: dict[str, ColumnRule] | None,
    key_column: str | None,
    chunk_rows: int,
    resume: int,
    output: str | None,
    progress: Callable[[int], None] | None,
) -> int:
    position = 0
    sink = _ParquetSink(output) if output is not None else None
    pending: Future[None] | None = None
    with ThreadPoolExecutor(1, thread_name_prefix="airfoil-store") as pool:
        for chunk, read in enumerate(reader.batches(chunk_rows)):
            rb = read
            start, position = position, position + rb.num_rows
            if position <= resume:  # stored by an earlier try
                if progress is not None:
                    progress(rb.num_rows)
                continue
            if start < resume:  # an earlier try with another chunk size stored this chunk's head
                if progress is not None:
                    progress(resume - start)
                rb, start = read.slice(resume - start), resume
            checked = check_rows(rb, served.columns, rules)
            labels, proba = (
                served.predict_arrays(checked.values) if checked.ok.any() else (np.array([]), None)
            )
            row_id = rb.column(key_column) if key_column else None
            if pending is not None:
                pending.result()  # the store keeps chunk order; at most one chunk in flight
            # Shaping rows for the store (text, JSON) and storing them run beside the next chunk's
            # read and predict: Arrow kernels, ONNX Runtime and the database drivers release the GIL.
            pending = pool.submit(
                _store_chunk,
                store,
                batch_id,
                chunk,
                {
                    "checked": checked,
                    "labels": labels,
                    "proba": proba,
                    "classes": served.classes,
                    "row_index": np.arange(start, position),
                    "row_id": row_id,
                    "model_version": served.version,
                },
                sink,
            )
            if progress is not None:
                progress(rb.num_rows)
        if pending is not None:
            pending.result()
    if sink is not None:
        sink.close()
    return position


def _store_chunk(
    store: PredictionStore, batch_id: int, chunk: int, parts: dict[str, Any], sink: _ParquetSink | None
) -> None:
    table = prediction_table(**parts)
    if sink is not None:
        sink.write(table)
    store.write_chunk(batch_id, table, chunk)


class _ParquetSink:
    """The optional Parquet copy of a block's predictions: chunks go to `<output>.tmp`, which is
    moved into place once the whole input is scored (a failed try leaves no half file behind)."""

    def __init__(self, output: str):
        self.fs, self.path = fsspec.core.url_to_fs(output)
        self.writer: Any = None

    def write(self, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        if self.writer is None:
            self.fs.makedirs(self.path.rsplit("/", 1)[0], exist_ok=True)
            self.writer = pq.ParquetWriter(self.path + ".tmp", table.schema, filesystem=self.fs)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.fs.mv(self.path + ".tmp", self.path)


def _summary(
    key: str, rows: int, scored: int, rejected: int, *, seconds: float, resumed: int
) -> dict[str, Any]:
    return {
        "block": key,
        "rows": rows,
        "scored": scored,
        "rejected": rejected,
        "resumed_at": resumed,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds) if seconds > 0 else None,
    }


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AirfoilError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
