"""Read a pipeline's training source: files (path, glob, fsspec URL) or a SQL query."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airfoil.errors import DataError
from airfoil.spec.model import FileSource, SqlSource
from airfoil.steps import readers

if TYPE_CHECKING:
    import pandas as pd


def read_source(source: FileSource | SqlSource) -> pd.DataFrame:
    """Read every file the source names (or run its query) into one DataFrame."""
    import pandas as pd

    if isinstance(source, SqlSource):
        (frame,) = readers.query(source, "source.sql")
        return frame
    fs, paths = readers.expand(source.path)
    if not paths or not all(fs.exists(p) for p in paths):
        raise DataError(
            f"source.path {source.path!r} matches no file; check the path (relative to the spec file)"
        )
    frames = [readers.read_frame(fs, p, readers.format_of(p, source.format, "source.format")) for p in paths]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_sample(
    source: FileSource | SqlSource, rows: int, format_field: str = "source.format"
) -> tuple[pd.DataFrame, bool]:
    """At most `rows` rows of the source, the first ones (file after file, or the query's first
    rows), and whether it has more. For a look at a large source without reading all of it."""
    import pandas as pd

    if isinstance(source, SqlSource):
        chunks = readers.query(source, "the query", chunk_rows=rows)
        try:
            first = next(chunks, None)
            more = first is not None and next(chunks, None) is not None
        finally:
            getattr(chunks, "close")()  # noqa: B009 - a generator: closing it closes the connection
        return (first if first is not None else pd.DataFrame()), more
    fs, paths = readers.expand(source.path)
    if not paths or not all(fs.exists(p) for p in paths):
        raise DataError(f"{source.path!r} matches no file; check the path")
    frames: list[pd.DataFrame] = []
    left = rows + 1  # one row more than wanted tells whether there is more
    for p in paths:
        if left <= 0:
            break
        frame = readers.read_head(fs, p, readers.format_of(p, source.format, format_field), left)
        frames.append(frame)
        left -= len(frame)
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return df.head(rows), len(df) > rows
