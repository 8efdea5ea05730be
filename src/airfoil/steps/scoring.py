"""The scoring engine: stream one input through a model in chunks, check every row, store every row.

Used by the batch DAG's `score` task (one block) and by `airfoil predict` (one file). Each chunk is
stored together with the batch's progress, so a retry after a kill continues after the last stored
chunk; the upsert on (batch, row) makes even a full re-score leave exactly one prediction per row.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import fsspec
import numpy as np

from airfoil.errors import AirfoilError, DataError
from airfoil.steps.checks import check_rows, missing_columns
from airfoil.steps.predictions import prediction_table
from airfoil.steps.profiling import Profiler, profiler_for
from airfoil.steps.readers import ChunkedInput, open_input
from airfoil.store.kinds import BatchKind, BatchStatus, ProfileSource

if TYPE_CHECKING:
    import pyarrow as pa

    from airfoil.registry.loaded import LoadedModel
    from airfoil.spec.model import ColumnRule
    from airfoil.steps.checks import Bounds
    from airfoil.store import PredictionStore
    from airfoil.store.plain import PlainStore

    Store = PredictionStore | PlainStore

log = logging.getLogger("airfoil.batch")


def score_source(
    store: Store,
    model: LoadedModel,
    *,
    pipeline: str,
    kind: BatchKind,
    key: str,
    source: str,
    fingerprint: str | None,
    fmt: str,
    rules: Mapping[str, ColumnRule | Bounds] | None = None,
    key_column: str | None = None,
    chunk_rows: int = 100_000,
    output: str | None = None,
    dag_id: str | None = None,
    dag_run_id: str | None = None,
    progress: Callable[[int], None] | None = None,
    final_key: Callable[[], tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Score every row of one input and store it; resume after the last stored chunk of an earlier try.

    `final_key`: `key` is a draft; once every row is stored, the batch is renamed to the (key,
    fingerprint) it returns (the input's hash, computed meanwhile), in the same statement as `done`.

    Reading, predicting and shaping chunk k+1 overlaps with storing chunk k (one writer thread, at
    most one chunk in flight), so memory holds about two chunks whatever the input's size.
    """
    started = time.perf_counter()
    batch, _ = store.open_batch(pipeline, kind, key, source=source, fingerprint=fingerprint)
    if batch.status == BatchStatus.done and batch.model_version == model.version and output is None:
        log.info("airfoil: %s already scored by v%s", key, model.version)
        return _summary(
            batch.batch_key, batch.rows_total, batch.rows_scored, batch.rows_rejected, seconds=0.0, resumed=0
        )
    # Resume only what this version stored; a Parquet output is rewritten whole.
    resume = batch.rows_total if batch.model_version == model.version and output is None else 0
    batch = store.start(
        batch.id,
        restart=resume == 0,
        model_version=model.version,
        classes=model.classes,
        dag_id=dag_id,
        dag_run_id=dag_run_id,
    )
    wanted = model.column_names + ([key_column] if key_column else [])
    try:
        reader = open_input(source, fmt, list(dict.fromkeys(wanted)))
        missing = missing_columns(reader.columns, model.columns)
        if missing:
            raise DataError(f"{source} has no column(s) {missing}; the model takes {model.column_names}")
        if key_column and key_column not in reader.columns:
            raise DataError(f"deploy.batch.key: {source} has no column {key_column!r}")
        rows = _score_chunks(
            store,
            model,
            batch.id,
            reader,
            profiler=profiler_for(model, ProfileSource(kind.value), batch.id),
            rules=rules,
            key_column=key_column,
            chunk_rows=chunk_rows,
            resume=resume,
            output=output,
            progress=progress,
        )
    except BaseException as exc:
        with contextlib.suppress(Exception):
            store.finish(batch.id, BatchStatus.failed, error=_reason(exc))
        raise
    named: dict[str, Any] = {}
    if final_key is not None:
        named["batch_key"], named["fingerprint"] = final_key()
    done = store.finish(batch.id, BatchStatus.done, rows_total=rows, **named)
    if resume:
        log.info("airfoil: %s resumed at row %d (stored by an earlier try)", key, resume)
    seconds = time.perf_counter() - started
    return _summary(
        done.batch_key, done.rows_total, done.rows_scored, done.rows_rejected, seconds=seconds, resumed=resume
    )


def _score_chunks(
    store: Store,
    model: LoadedModel,
    batch_id: int,
    reader: ChunkedInput,
    *,
    profiler: Profiler | None,
    rules: Mapping[str, ColumnRule | Bounds] | None,
    key_column: str | None,
    chunk_rows: int,
    resume: int,
    output: str | None,
    progress: Callable[[int], None] | None,
) -> int:
    position = 0
    sink = _ParquetSink(output) if output is not None else None
    pending: Future[None] | None = None
    fresh = resume == 0  # started from zero: nothing of this batch is stored, plain inserts do
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
            checked = check_rows(rb, model.columns, rules)
            labels, proba = model.predict_arrays(checked.values) if checked.ok.any() else (np.array([]), None)
            row_id = rb.column(key_column) if key_column else None
            # The rows shaped for the store (text, JSON) and the chunk's profile here; storing them
            # runs beside the next chunk's read, check, predict and shaping (Arrow kernels, ONNX
            # Runtime and the database drivers release the GIL). The writer is the slower side (an
            # indexed insert per row), so it does nothing else: 16M rows 35.7-37.3 s with the
            # shaping in the writer thread, 30.6-31.6 s with it here (three interleaved pairs).
            table = prediction_table(
                checked,
                labels,
                proba,
                classes=model.classes,
                row_index=np.arange(start, position),
                row_id=row_id,
                model_version=model.version,
            )
            profile = profiler.row(checked, labels, start) if profiler is not None else None
            if pending is not None:
                pending.result()  # the store keeps chunk order; at most one chunk in flight
            pending = pool.submit(
                _store_chunk, store, batch_id, chunk, table, sink, profile=profile, fresh=fresh
            )
            if progress is not None:
                progress(rb.num_rows)
        if pending is not None:
            pending.result()
    if sink is not None:
        sink.close()
    return position


def _store_chunk(
    store: Store,
    batch_id: int,
    chunk: int,
    table: Any,
    sink: _ParquetSink | None,
    *,
    profile: dict[str, Any] | None,
    fresh: bool,
) -> None:
    if sink is not None:
        sink.write(table)
    store.write_chunk(batch_id, table, chunk, profile=profile, fresh=fresh)


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
