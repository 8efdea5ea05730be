"""Model files that load without executing code: skops with a trusted-types list airfoil owns.

The list of allowed types is decided here, by module prefix, never read from the artifact.
"""

from __future__ import annotations

import re
from typing import Any

from airfoil.artifacts import io
from airfoil.errors import UnsafeModelError

# What a model file may contain beyond skops' own defaults. Estimator libraries are trusted by
# module; from numpy/builtins/collections only named data types, never functions (a file could
# otherwise smuggle in `builtins.eval` or `pandas.read_pickle` as a FunctionTransformer's func).
TRUSTED_PREFIXES = ("sklearn.", "lightgbm.", "xgboost.", "scipy.sparse.")
TRUSTED_TYPES = frozenset(
    {
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._pcg64.PCG64",
        "numpy.random._mt19937.MT19937",
        "builtins.slice",
        "builtins.object",
        "collections.OrderedDict",
        "collections.defaultdict",
    }
)
_NUMPY_SCALAR = re.compile(
    r"^numpy\.(bool_?|u?int\d*|float\d*|complex\d*|str_|bytes_|datetime64|timedelta64)$"
)


def is_trusted(type_name: str) -> bool:
    """True for a type airfoil lets a model file contain."""
    return (
        type_name.startswith(TRUSTED_PREFIXES)
        or type_name in TRUSTED_TYPES
        or bool(_NUMPY_SCALAR.match(type_name))
    )


def trusted_types(data: bytes) -> list[str]:
    """Types in a skops file beyond skops' defaults, all checked against airfoil's prefixes."""
    import skops.io as sio

    found = sio.get_untrusted_types(data=data)
    refused = [t for t in found if not is_trusted(t)]
    if refused:
        raise UnsafeModelError(
            f"model file contains types airfoil does not trust: {refused}; allowed are estimators from "
            f"{TRUSTED_PREFIXES} and numpy/builtins data types"
        )
    return list(found)


def dumps(model: Any) -> bytes:
    """Serialize with skops; the result must load back under airfoil's trusted list."""
    import skops.io as sio

    data: bytes = sio.dumps(model)
    trusted_types(data)
    return data


def loads(data: bytes) -> Any:
    """Load a skops model file after checking every type it holds against the trusted list."""
    import skops.io as sio

    return sio.loads(data, trusted=trusted_types(data))


def save(model: Any, uri: str) -> dict[str, str]:
    """Write a model file; return its uri and sha256."""
    return {"uri": uri, "sha256": io.write_bytes(uri, dumps(model))}


def load(ref: dict[str, str]) -> Any:
    """Read a model file, refusing it unless its sha256 matches the reference."""
    return loads(io.read_bytes(ref["uri"], ref["sha256"]))
