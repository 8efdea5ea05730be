"""What the serving integration tests share: the example data as requests, and how answers are read.

The servers run with AIRFOIL_MAX_ROWS=200, AIRFOIL_MAX_BODY_BYTES=200000 and AIRFOIL_MAX_INFLIGHT=4
so the limits are cheap to reach (`conftest.server`).
"""

from __future__ import annotations

import csv
from typing import Any

import httpx

from tests.conftest import EXAMPLES

BC = "breast_cancer"
MAX_ROWS = 200
MAX_BODY = 200_000
MAX_INFLIGHT = 4


def _csv(name: str) -> list[dict[str, str]]:
    with (EXAMPLES / name / "data" / f"{name}.csv").open() as f:
        return list(csv.DictReader(f))


def _number(text: str) -> float | None:
    return float(text) if text != "" else None


BC_ROWS = [{k: float(v) for k, v in r.items() if k not in ("id", "diagnosis")} for r in _csv(BC)]
BC_COLUMNS = list(BC_ROWS[0])
CARS_ROWS = [
    {
        **{
            k: _number(r[k])
            for k in ("Cylinders", "Displacement", "Horsepower", "Weight_in_lbs", "Acceleration")
        },
        "Year": float(r["Year"][:4]),  # the example's own prepare step turns the date into the model year
        "Origin": r["Origin"],
    }
    for r in _csv("cars")
]
CARS_COLUMNS = list(CARS_ROWS[0])


def columns_of(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {c: [r[c] for r in rows] for c in rows[0]}


def oip(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """An OIP infer request with one [n] input per column."""
    return {
        "inputs": [
            {
                "name": c,
                "shape": [len(values)],
                "datatype": "BYTES" if isinstance(values[0], str) else "FP64",
                "data": values,
            }
            for c, values in columns_of(rows).items()
        ],
        **extra,
    }


def with_input(body: dict[str, Any], name: str, **changes: Any) -> dict[str, Any]:
    """A copy of an OIP body with one input changed (or removed, with `drop=True`)."""
    inputs = []
    for t in body["inputs"]:
        if t["name"] != name:
            inputs.append(t)
        elif not changes.pop("drop", False):
            inputs.append({**t, **changes})
    return {**body, "inputs": inputs}


def records(rows: list[dict[str, Any]], **changes: Any) -> list[dict[str, Any]]:
    out = [dict(r) for r in rows]
    for k, v in changes.items():
        if v is DROP:
            for r in out:
                r.pop(k)
        else:
            out[0][k] = v
    return out


DROP = object()
BC3 = BC_ROWS[:3]
BC_OIP = oip(BC3)
CARS_OIP = oip(CARS_ROWS[:3])
INFER = f"/v2/models/{BC}/infer"
INVOKE = f"/v1/models/{BC}/invocations"
CARS_INFER = "/v2/models/cars/infer"
CARS_INVOKE = "/v1/models/cars/invocations"


def predicted(response: httpx.Response, output: str = "predict") -> list[Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    if "predictions" in body:
        return list(body["predictions"])
    [out] = [o for o in body["outputs"] if o["name"] == output]
    return list(out["data"])


def bad_cases(cases: list[tuple[str, str, Any, str]]) -> list[Any]:
    """(id, path, body, needle) rows as pytest params of a bad-input test."""
    import pytest

    return [pytest.param(path, body, needle, id=case) for case, path, body, needle in cases]


def assert_bad_input(api: httpx.Client, path: str, body: Any, needle: str) -> None:
    """400 with a message naming the field."""
    r = api.post(path, json=body)
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"], r.json()
    if "/versions/" not in path:  # the model is known: the answer says which version refused it
        assert r.headers["X-Model-Version"] == "1"


def assert_no_internal_error(log: str) -> None:
    """Nothing made the server answer 500 or log a traceback."""
    assert "unexpected error" not in log and "Traceback" not in log, log[-5000:]
