"""Read a pipeline's source: files (path, glob, fsspec URL) or a SQL query."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import fsspec

from airfoil.errors import DataError
from airfoil.spec.model import FileSource, SqlSource

if TYPE_CHECKING:
    import pandas as pd

_READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "json"}


def read_source(source: FileSource | SqlSource) -> pd.DataFrame:
    """Read every file the source names (or run its query) into one DataFrame."""
    import pandas as pd

    if isinstance(source, SqlSource):
        import sqlalchemy as sa

        try:
            engine = sa.create_engine(source.conn)
            with engine.connect() as conn:
                return pd.read_sql(sa.text(source.sql), conn)
        except Exception as exc:  # driver errors are many; the message is what matters
            raise DataError(f"source.sql failed on {engine_url(source.conn)}: {exc}") from exc

    fs, _ = fsspec.core.url_to_fs(source.path)
    paths = sorted(fs.glob(source.path)) if any(c in source.path for c in "*?[") else [source.path]
    if not paths or not all(fs.exists(p) for p in paths):
        raise DataError(
            f"source.path {source.path!r} matches no file; check the path (relative to the spec file)"
        )
    frames = []
    for path in paths:
        fmt = source.format or _READERS.get("." + path.rsplit(".", 1)[-1].lower())
        if fmt is None:
            raise DataError(f"cannot tell the format of {path}; set source.format to csv, parquet or json")
        with fs.open(path, "rb") as f:
            data = f.read()
        try:
            if fmt == "csv":
                frames.append(pd.read_csv(io.BytesIO(data)))
            elif fmt == "parquet":
                frames.append(pd.read_parquet(io.BytesIO(data)))
            else:
                frames.append(pd.read_json(io.BytesIO(data), lines=path.endswith(".jsonl")))
        except Exception as exc:
            raise DataError(f"cannot read {path} as {fmt}: {exc}") from exc
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def engine_url(url: str) -> str:
    """The URL with any password hidden, for error messages."""
    import sqlalchemy as sa

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"
