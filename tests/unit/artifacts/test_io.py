"""Artifact IO: atomic writes, sha256 checks, content fingerprints independent of the file format."""

from __future__ import annotations

import io as pyio
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airfoil.artifacts import io
from airfoil.errors import DataError, UnsafeModelError


def test_write_bytes_is_atomic_and_returns_sha256(tmp_path: Path) -> None:
    uri = str(tmp_path / "a" / "b" / "file.bin")
    digest = io.write_bytes(uri, b"hello")
    assert digest == io.sha256(b"hello")
    assert Path(uri).read_bytes() == b"hello"
    assert not Path(uri + ".tmp").exists()  # the temp file was moved into place
    io.write_bytes(uri, b"again")  # overwriting (a retry) replaces the content
    assert io.read_bytes(uri, io.sha256(b"again")) == b"again"


def test_file_url_works(tmp_path: Path) -> None:
    uri = (tmp_path / "x.json").as_uri()
    io.write_json(uri, {"b": 1, "a": [1, 2]})
    assert io.exists(uri)
    assert io.read_json(uri) == {"a": [1, 2], "b": 1}


def test_read_with_wrong_sha_is_refused(tmp_path: Path) -> None:
    uri = str(tmp_path / "file.bin")
    io.write_bytes(uri, b"original")
    Path(uri).write_bytes(b"tampered")
    with pytest.raises(UnsafeModelError, match="does not match its recorded sha256"):
        io.read_bytes(uri, io.sha256(b"original"))


def test_read_missing_artifact(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        io.read_bytes(str(tmp_path / "gone.parquet"))
    assert not io.exists(str(tmp_path / "gone.parquet"))


def test_parquet_round_trip(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, np.nan, 2.0]})
    ref = io.write_parquet(df, str(tmp_path / "d.parquet"))
    assert ref["rows"] == 3
    back = io.read_parquet(ref)
    pd.testing.assert_frame_equal(back, df)
    assert io.fingerprint(back) == ref["fingerprint"]


def test_tampered_parquet_is_refused(tmp_path: Path) -> None:
    ref = io.write_parquet(pd.DataFrame({"a": [1, 2]}), str(tmp_path / "d.parquet"))
    pd.DataFrame({"a": [1, 3]}).to_parquet(ref["uri"], index=False)
    with pytest.raises(UnsafeModelError):
        io.read_parquet(ref)


def test_fingerprint_is_independent_of_file_encoding(tmp_path: Path) -> None:
    df = pd.DataFrame({"n": [1, 2, 3], "f": [0.25, 1.5, -3.0], "s": ["a", "b", "c"]})
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    from_csv = pd.read_csv(path)
    assert from_csv.dtypes.equals(df.dtypes)
    from_parquet = pd.read_parquet(pyio.BytesIO(_parquet_bytes(df)))
    assert io.fingerprint(from_csv) == io.fingerprint(df) == io.fingerprint(from_parquet)


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = pyio.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def test_fingerprint_ignores_the_index_but_sees_values_names_and_types() -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    base = io.fingerprint(df)
    assert io.fingerprint(df.set_axis([10, 11, 12])) == base
    assert io.fingerprint(df.assign(a=[1, 2, 4])) != base
    assert io.fingerprint(df.rename(columns={"a": "A"})) != base
    assert io.fingerprint(df.astype({"a": "float64"})) != base
    assert io.fingerprint(df.iloc[::-1]) != base  # row order is part of the content
