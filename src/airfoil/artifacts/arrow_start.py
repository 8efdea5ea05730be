"""pyarrow for a process that scores with Arrow and numpy alone: without its pandas probe, and the
few compute functions scoring calls without `pyarrow.compute`.

pyarrow looks for pandas the first time it converts anything (`pa.array`, `pa.scalar`, `pa.table`
of numpy arrays or lists), and that imports pandas: 0.3 s, a third of a batch `score` task's cold
start, for a library the task never calls. `skip_pandas_probe` answers that first look with "not
installed", the answer pyarrow has for a process without pandas: numpy arrays and lists convert
exactly as before (pandas objects are never handed to pyarrow on the scoring path). pyarrow's own
pandas calls (`to_pandas`, `Table.from_pandas`) still import pandas when they run, and turn the
probe back on.
"""

from __future__ import annotations

import sys
import threading
from typing import Any


class _NotHere:
    """A finder that refuses pandas to one thread, for one look."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" and threading.get_ident() == self.thread:
            raise ImportError("pandas is left out of this process until something calls it")


def skip_pandas_probe() -> bool:
    """Make pyarrow's first look for pandas find none, unless pandas is imported already. Whether it did
    (False: pandas was there, or pyarrow had looked before)."""
    if "pandas" in sys.modules:
        return False
    import pyarrow as pa

    finder = _NotHere()
    sys.meta_path.insert(0, finder)
    try:
        pa.scalar(0)  # pyarrow's first conversion: the look for pandas, answered by the finder
    finally:
        sys.meta_path.remove(finder)
    return "pandas" not in sys.modules


def call(function: str, *args: Any, options: Any = None) -> Any:
    """An Arrow compute function by its name, as `pyarrow.compute.<function>(*args)` calls it, without
    importing `pyarrow.compute`: that builds a Python wrapper for each of its ~300 functions at import
    (0.1 s of a cold start), and scoring calls three."""
    from pyarrow._compute import call_function

    return call_function(function, list(args), options)


def cast(arr: Any, target: Any) -> Any:
    """`pyarrow.compute.cast(arr, target)`: a safe cast (overflow or a value that does not parse raises)."""
    from pyarrow._compute import CastOptions

    return call("cast", arr, options=CastOptions.safe(target))
