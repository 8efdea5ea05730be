"""Model files that load without executing code: skops with a trusted-types list airfoil owns.

The list of allowed types is decided here, by module prefix, never read from the artifact.
"""

from __future__ import annotations

from typing import Any

from airfoil.errors import UnsafeModelError
from airfoil.steps import io

# Modules whose types a model file may contain. Anything else is refused at load time.
TRUSTED_PREFIXES = (
    "sklearn.",
    "numpy.",
    "scipy.sparse.",
    "scipy.special.",
    "builtins.",
    "collections.",
    "lightgbm.",
    "xgboost.",
    "pandas.",
)


def trusted_types(data: bytes) -> list[str]:
    """Types in a skops file beyond skops' defaults, all checked against airfoil's prefixes."""
    import skops.io as sio

    found = sio.get_untrusted_types(data=data)
    refused = [t for t in found if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise UnsafeModelError(
            f"model file contains types airfoil does not trust: {refused}; only modules {TRUSTED_PREFIXES} "
            "are allowed"
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
