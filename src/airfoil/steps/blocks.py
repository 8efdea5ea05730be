"""Input blocks of batch scoring: each file of `deploy.batch.input`, or one snapshot of its SQL query.

A block is identified by its name and the sha256 of its bytes, so a changed file is a new block
and the ledger never scores the same bytes twice.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import fsspec

from airfoil.artifacts import io
from airfoil.errors import DataError
from airfoil.steps import readers

if TYPE_CHECKING:
    from airfoil.spec.model import SqlSource

PREDICTIONS_SUFFIX = ".predictions.parquet"  # the Parquet copy `write_parquet` puts beside an input


def list_files(pattern: str, fmt: str | None = None) -> list[dict[str, Any]]:
    """Every file the path/glob/URL names, with its format and content fingerprint."""
    fs, paths = readers.expand(pattern)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    blocks = []
    for path in paths:
        if str(path).endswith(PREDICTIONS_SUFFIX):
            continue
        uri = path if "://" in str(path) or protocol in ("file", "local") else f"{protocol}://{path}"
        if not fs.exists(path):
            raise DataError(f"deploy.batch.input {pattern!r}: {path} does not exist")
        blocks.append(file_block(uri, fmt))
    return blocks


def file_block(uri: str, fmt: str | None = None) -> dict[str, Any]:
    """One file as a block: {id, name, uri, format, fingerprint}; the id changes when the bytes do."""
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    kind = readers.format_of(uri, fmt, "deploy.batch.format")
    fingerprint = io.sha256_file(uri)
    return {
        "id": f"{name}@{fingerprint[:16]}",
        "name": name,
        "uri": uri,
        "format": kind,
        "fingerprint": fingerprint,
    }


def snapshot_query(source: SqlSource, uri: str) -> dict[str, Any]:
    """Run the query once, in chunks, into a Parquet snapshot at `uri`: retries and re-runs of the
    DAG run score the same rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fs, path = fsspec.core.url_to_fs(uri)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    writer = None
    with fs.open(path + ".tmp", "wb") as sink:
        for frame in readers.query(source, "deploy.batch.input.sql", chunk_rows=100_000):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(sink, table.schema)
            writer.write_table(table.cast(writer.schema))
        if writer is None:
            raise DataError("deploy.batch.input.sql returned no columns")
        writer.close()
    fs.mv(path + ".tmp", path)
    block = file_block(uri, "parquet")
    query = hashlib.sha256(source.sql.encode()).hexdigest()[:12]
    block["name"] = f"query-{query}"
    block["id"] = f"query-{query}@{block['fingerprint'][:16]}"
    return block
