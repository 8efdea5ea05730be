"""Helpers for the serving unit tests: a hand-built model schema and request bodies."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from airfoil.registry.loaded import LoadedModel
from airfoil.serving.http import BadInput

MAX = 100


def schema_model(
    name: str, task: str, columns: dict[str, tuple[str, bool]], classes: list[Any]
) -> LoadedModel:
    """A model with only a schema ({column: (type, nullable)}): enough for the request checks."""
    return LoadedModel(
        name=name,
        version=1,
        task=task,
        columns=[{"name": c, "type": kind, "nullable": nullable} for c, (kind, nullable) in columns.items()],
        classes=classes,
        backend="sklearn",
        metrics={},
    )


def toy_model() -> LoadedModel:
    columns = {
        "age": ("number", False),
        "income": ("number", True),
        "city": ("string", False),
        "note": ("string", True),
    }
    return schema_model("toy", "classification", columns, ["no", "yes"])


def tensor(name: str, data: list[Any], datatype: str | None = None, shape: list[int] | None = None) -> dict:
    kind = datatype or ("BYTES" if data and isinstance(data[0], str) else "FP64")
    return {"name": name, "shape": shape or [len(data)], "datatype": kind, "data": data}


def good_oip(**override: dict) -> dict[str, Any]:
    inputs = {
        "age": tensor("age", [30, 41.5]),
        "income": tensor("income", [1000.0, None]),
        "city": tensor("city", ["Oslo", "Lima"]),
        "note": tensor("note", [None, "x"], datatype="BYTES"),
    }
    inputs.update(override)
    return {"inputs": [t for t in inputs.values() if t]}


@contextlib.contextmanager
def bad(message: str, status: int = 400) -> Iterator[None]:
    """The block raises BadInput with this HTTP status and a message matching `message`."""
    with pytest.raises(BadInput, match=message) as info:
        yield
    assert info.value.status == status


def assert_columns(out: dict[str, Any]) -> None:
    assert list(out) == ["age", "income", "city", "note"]
    assert out["age"].dtype == np.float64 and out["age"].tolist() == [30.0, 41.5]
    assert out["income"][0] == 1000.0 and math.isnan(out["income"][1])
    assert out["city"] == ["Oslo", "Lima"] and out["note"] == [None, "x"]
