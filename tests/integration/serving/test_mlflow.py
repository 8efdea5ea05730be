"""MLflow's scoring formats at `/v1/models/{name}/invocations`, as a client sees them."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest

from tests.integration.conftest import Server
from tests.integration.serving.support import (
    BC3,
    BC_COLUMNS,
    BC_OIP,
    CARS_COLUMNS,
    CARS_INFER,
    CARS_INVOKE,
    CARS_ROWS,
    DROP,
    INFER,
    INVOKE,
    assert_bad_input,
    assert_no_internal_error,
    bad_cases,
    columns_of,
    oip,
    predicted,
    records,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {"dataframe_split": {"columns": BC_COLUMNS, "data": [list(r.values()) for r in BC3]}}, id="split"
        ),
        pytest.param({"dataframe_split": {"data": [list(r.values()) for r in BC3]}}, id="split-no-columns"),
        pytest.param({"dataframe_records": BC3}, id="records"),
        pytest.param({"instances": BC3}, id="instances-records"),
        pytest.param({"instances": [list(r.values()) for r in BC3]}, id="instances-rows"),
        pytest.param({"inputs": columns_of(BC3)}, id="inputs-columnar"),
    ],
)
def test_mlflow_formats(api: httpx.Client, body: dict[str, Any]) -> None:
    r = api.post(INVOKE, json=body)
    assert r.headers["X-Model-Version"] == "1"
    assert r.json()["model_version"] == 1
    oip_labels = predicted(api.post(INFER, json=BC_OIP))
    assert predicted(r) == oip_labels


def test_mlflow_formats_with_a_text_column(api: httpx.Client) -> None:
    rows = CARS_ROWS[:5]
    expected = predicted(api.post(CARS_INFER, json=oip(rows)))
    for body in (
        {"dataframe_split": {"columns": CARS_COLUMNS, "data": [list(r.values()) for r in rows]}},
        {"dataframe_records": rows},
        {"instances": rows},
        {"instances": [list(r.values()) for r in rows]},
        {"inputs": columns_of(rows)},
    ):
        np.testing.assert_allclose(predicted(api.post(CARS_INVOKE, json=body)), expected, rtol=1e-12)


# --- bad input: 400 naming the field, never 500 --------------------------------------------------------
def _bad_cases() -> list[Any]:
    flat = [r[c] for r in BC3 for c in BC_COLUMNS]
    cases = [
        ("mlflow-no-key", INVOKE, {}, "dataframe_split"),
        ("mlflow-two-keys", INVOKE, {"inputs": columns_of(BC3), "instances": BC3}, "exactly one"),
        ("mlflow-body-list", INVOKE, BC3, "JSON object"),
        (
            "mlflow-split-short-row",
            INVOKE,
            {"dataframe_split": {"columns": BC_COLUMNS, "data": [flat[:29]]}},
            "row 0",
        ),
        ("mlflow-split-no-data", INVOKE, {"dataframe_split": {"columns": BC_COLUMNS}}, "dataframe_split"),
        (
            "mlflow-split-bad-columns",
            INVOKE,
            {"dataframe_split": {"columns": list(range(30)), "data": [flat[:30]]}},
            "columns",
        ),
        (
            "mlflow-records-missing",
            INVOKE,
            {"dataframe_records": records(BC3, mean_radius=DROP)},
            "mean_radius",
        ),
        ("mlflow-records-extra", INVOKE, {"dataframe_records": records(BC3, bogus=1.0)}, "bogus"),
        ("mlflow-records-null", INVOKE, {"dataframe_records": records(BC3, mean_radius=None)}, "mean_radius"),
        ("mlflow-records-text", INVOKE, {"dataframe_records": records(BC3, mean_area="big")}, "mean_area"),
        ("mlflow-records-bool", INVOKE, {"dataframe_records": records(BC3, mean_area=True)}, "mean_area"),
        (
            "mlflow-records-object",
            INVOKE,
            {"dataframe_records": records(BC3, mean_area={"v": 1})},
            "mean_area",
        ),
        ("mlflow-records-empty", INVOKE, {"dataframe_records": []}, "empty"),
        ("mlflow-instances-scalars", INVOKE, {"instances": [1.0, 2.0]}, "row 0"),
        ("mlflow-instances-not-list", INVOKE, {"instances": "x"}, "instances"),
        (
            "mlflow-inputs-nested",
            INVOKE,
            {"inputs": {**columns_of(BC3), "mean_radius": [[1.0, 2.0]] * 3}},
            "mean_radius",
        ),
        ("mlflow-inputs-lengths", INVOKE, {"inputs": {**columns_of(BC3), "mean_radius": [1.0]}}, "lengths"),
        (
            "mlflow-text-column-number",
            CARS_INVOKE,
            {"dataframe_records": records(CARS_ROWS[:3], Origin=7)},
            "Origin",
        ),
        (
            "mlflow-text-column-null",
            CARS_INVOKE,
            {"dataframe_records": records(CARS_ROWS[:3], Origin=None)},
            "Origin",
        ),
    ]
    return bad_cases(cases)


@pytest.mark.parametrize(("path", "body", "needle"), _bad_cases())
def test_bad_input_is_400_naming_the_field(api: httpx.Client, path: str, body: Any, needle: str) -> None:
    assert_bad_input(api, path, body, needle)


def test_the_server_logged_no_internal_error(server: Server) -> None:
    """Runs last in this module: nothing above made the server answer 500 or log a traceback."""
    assert_no_internal_error(server.output())
