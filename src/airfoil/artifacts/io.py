"""Reading and writing artifacts through fsspec, with sha256 and atomic replace."""

from __future__ import annotations

import hashlib
import io
import json
from typing import TYPE_CHECKING, Any

import fsspec

from airfoil.errors import DataError, UnsafeModelError

if TYPE_CHECKING:
    import pandas as pd


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bytes(uri: str, data: bytes) -> str:
    """Write `data` to `uri` atomically (temp file + move) and return its sha256."""
    fs, path = fsspec.core.url_to_fs(uri)
    parent = path.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp"
    with fs.open(tmp, "wb") as f:
        f.write(data)
    fs.mv(tmp, path)
    return sha256(data)


def read_bytes(uri: str, expected_sha256: str | None = None) -> bytes:
    """Read `uri`; if `expected_sha256` is given, refuse content that does not match it."""
    fs, path = fsspec.core.url_to_fs(uri)
    try:
        with fs.open(path, "rb") as f:
            data: bytes = f.read()
    except FileNotFoundError:
        raise DataError(f"artifact {uri} does not exist; was it deleted, or did its task not run?") from None
    if expected_sha256 is not None and sha256(data) != expected_sha256:
        raise UnsafeModelError(
            f"artifact {uri} does not match its recorded sha256 (expected {expected_sha256[:12]}..., "
            f"got {sha256(data)[:12]}...); it was changed after it was written and will not be used"
        )
    return data


def write_json(uri: str, obj: Any) -> str:
    return write_bytes(uri, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def read_json(uri: str, expected_sha256: str | None = None) -> Any:
    """Read JSON, refusing it if it does not match `expected_sha256` (when given)."""
    return json.loads(read_bytes(uri, expected_sha256))


def exists(uri: str) -> bool:
    fs, path = fsspec.core.url_to_fs(uri)
    return bool(fs.exists(path))


def write_parquet(df: pd.DataFrame, uri: str) -> dict[str, Any]:
    """Write a DataFrame as Parquet; return a reference: uri, sha256, rows, fingerprint."""
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    digest = write_bytes(uri, buf.getvalue())
    return {"uri": uri, "sha256": digest, "rows": len(df), "fingerprint": fingerprint(df)}


def read_parquet(ref: dict[str, Any]) -> pd.DataFrame:
    """Read the Parquet file a reference points to, checking its sha256."""
    import pandas as pd

    return pd.read_parquet(io.BytesIO(read_bytes(ref["uri"], ref.get("sha256"))))


def fingerprint(df: pd.DataFrame) -> str:
    """Content fingerprint: column names, dtypes and every value, independent of file encoding."""
    import pandas as pd

    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def sha256_file(uri: str) -> str:
    """sha256 of a file of any size, read in 8 MiB pieces."""
    h = hashlib.sha256()
    with fsspec.open(uri, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()
