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
