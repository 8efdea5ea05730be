"""The Open Inference Protocol v2 as a client sees it: a real `airfoil serve`, over HTTP (and through
Triton's own client)."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest

from tests.integration.conftest import Airfoil, Server
from tests.integration.serving.support import (
    BC,
    BC3,
    BC_COLUMNS,
    BC_OIP,
    BC_ROWS,
    CARS_COLUMNS,
    CARS_INFER,
    CARS_INVOKE,
    CARS_OIP,
    CARS_ROWS,
    INFER,
    assert_bad_input,
    assert_no_internal_error,
    bad_cases,
    columns_of,
    oip,
    predicted,
    with_input,
)

pytestmark = pytest.mark.integration


def test_health_needs_no_token(server: Server) -> None:
    assert httpx.get(f"{server.url}/v2/health/live").json() == {"live": True}
    r = httpx.get(f"{server.url}/v2/health/ready")
    assert r.status_code == 200 and r.json() == {"ready": True}


def test_server_metadata(api: httpx.Client) -> None:
    body = api.get("/v2").json()
    assert body["name"] == "airfoil" and body["version"] and body["extensions"] == []


@pytest.mark.parametrize("suffix", ["", "/versions/1"])
def test_model_metadata_and_ready(api: httpx.Client, suffix: str) -> None:
    r = api.get(f"/v2/models/{BC}{suffix}")
    assert r.status_code == 200 and r.headers["X-Model-Version"] == "1"
    meta = r.json()
    assert meta["name"] == BC and meta["versions"] == ["1"] and meta["platform"] == "onnxruntime"
    assert [i["name"] for i in meta["inputs"]] == BC_COLUMNS
    assert {i["datatype"] for i in meta["inputs"]} == {"FP64"}
    assert meta["outputs"] == [
        {"name": "predict", "datatype": "BYTES", "shape": [-1]},
        {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert meta["parameters"]["classes"] == ["benign", "malignant"]

    for name, platform in (("cars", "onnxruntime"), ("cars_sklearn", "scikit-learn")):
        cars = api.get(f"/v2/models/{name}{suffix}").json()
        assert cars["platform"] == platform
        assert {i["name"]: i["datatype"] for i in cars["inputs"]}["Origin"] == "BYTES"
        assert cars["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]

    r = api.get(f"/v2/models/{BC}{suffix}/ready")
    assert r.status_code == 200 and r.json() == {"name": BC, "ready": True}
    assert r.headers["X-Model-Version"] == "1"


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("/v2/models/nope", "'nope'"),
        ("/v2/models/nope/ready", "'nope'"),
        (f"/v2/models/{BC}/versions/99", "version 99"),
        (f"/v2/models/{BC}/versions/99/ready", "version 99"),
    ],
)
def test_unknown_model_or_version_is_404(api: httpx.Client, path: str, needle: str) -> None:
    r = api.get(path)
    assert r.status_code == 404 and needle in r.json()["error"]


@pytest.mark.parametrize(
    "path", ["/v2/models/nope/infer", f"/v2/models/{BC}/versions/99/infer", "/v1/models/nope/invocations"]
)
def test_predicting_with_unknown_model_or_version_is_404(api: httpx.Client, path: str) -> None:
    body = {"inputs": columns_of(BC3)} if "invocations" in path else BC_OIP
    r = api.post(path, json=body)
    assert r.status_code == 404, r.text
    assert "not served" in r.json()["error"]


def test_infer_per_column_matches_the_model_in_process(
    api: httpx.Client, champions_registry: Airfoil
) -> None:
    from airfoil.registry.versions import load_version
    from airfoil.settings import load_settings

    rows = BC_ROWS[:40]
    r = api.post(INFER, json=oip(rows))
    assert r.headers["X-Model-Version"] == "1"
    body = r.json()
    assert body["model_name"] == BC and body["model_version"] == "1" and "id" not in body
    [labels, proba] = body["outputs"]
    assert labels["name"] == "predict" and labels["shape"] == [40] and labels["datatype"] == "BYTES"
    assert proba["name"] == "predict_proba" and proba["shape"] == [40, 2]
    assert proba["parameters"] == {"classes": ["benign", "malignant"]}

    import pandas as pd

    settings = load_settings({"AIRFOIL_HOME": str(champions_registry.home)})
    model, _ = load_version(settings, BC, 1)
    frame = pd.DataFrame(rows, columns=BC_COLUMNS)
    assert labels["data"] == model.predict(frame).tolist()
    np.testing.assert_allclose(np.reshape(proba["data"], (40, 2)), model.predict_proba(frame), atol=1e-5)

    # cars through ONNX (airfoil's float64 HistGradientBoosting graph), cars_sklearn through scikit-learn
    cars_rows = CARS_ROWS[:40]
    for name in ("cars", "cars_sklearn"):
        cars_model, _ = load_version(settings, name, 1)
        expected = cars_model.predict(
            pd.DataFrame(cars_rows, columns=CARS_COLUMNS).astype({"Origin": object})
        )
        infer, invoke = CARS_INFER.replace("cars", name), CARS_INVOKE.replace("cars", name)
        np.testing.assert_allclose(predicted(api.post(infer, json=oip(cars_rows))), expected, rtol=1e-9)
        np.testing.assert_allclose(
            predicted(api.post(invoke, json={"dataframe_records": cars_rows})), expected, rtol=1e-9
        )


def test_infer_one_2d_input_equals_per_column(api: httpx.Client) -> None:
    rows = BC_ROWS[:10]
    flat = [r[c] for r in rows for c in BC_COLUMNS]
    two_d = {
        "inputs": [{"name": "input-0", "shape": [10, len(BC_COLUMNS)], "datatype": "FP64", "data": flat}]
    }
    nested = {
        "inputs": [
            {
                "name": "x",
                "shape": [10, len(BC_COLUMNS)],
                "datatype": "FP64",
                "data": [[r[c] for c in BC_COLUMNS] for r in rows],
            }
        ]
    }
    per_column = api.post(INFER, json=oip(rows)).json()["outputs"]
    assert api.post(INFER, json=two_d).json()["outputs"] == per_column
    assert api.post(INFER, json=nested).json()["outputs"] == per_column
    # [n, 1] column inputs are the same as [n]
    n1 = {"inputs": [{**t, "shape": [10, 1]} for t in oip(rows)["inputs"]]}
    assert api.post(INFER, json=n1).json()["outputs"] == per_column


def test_outputs_selection_and_id_echo(api: httpx.Client) -> None:
    r = api.post(INFER, json={**BC_OIP, "id": "req-42", "outputs": [{"name": "predict_proba"}]})
    body = r.json()
    assert body["id"] == "req-42"
    assert [o["name"] for o in body["outputs"]] == ["predict_proba"]
    body = api.post(INFER, json={**BC_OIP, "outputs": [{"name": "predict"}]}).json()
    assert [o["name"] for o in body["outputs"]] == ["predict"] and "id" not in body
    body = api.post(f"/v2/models/{BC}/versions/1/infer", json={**BC_OIP, "id": "v"}).json()
    assert body["id"] == "v" and body["model_version"] == "1" and len(body["outputs"]) == 2


def test_null_allowed_where_the_spec_allows_it(api: httpx.Client) -> None:
    # mean_texture has no rule in breast_cancer's spec, so it may be missing (the imputer fills it)
    r = api.post(INFER, json=with_input(BC_OIP, "mean_texture", data=[None, 1.0, None]))
    assert len(predicted(r)) == 3
    # cars: Horsepower is nullable; the example data has rows without it
    body = {"inputs": {**columns_of(CARS_ROWS[:2]), "Horsepower": [None, None]}}
    assert len(predicted(api.post(CARS_INVOKE, json=body))) == 2


def test_tritonclient_round_trip(server: Server) -> None:
    import tritonclient.http as triton

    client = triton.InferenceServerClient(url=server.url.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready(BC, headers=server.auth)
        meta = client.get_model_metadata(BC, headers=server.auth)
        assert [i["name"] for i in meta["inputs"]] == BC_COLUMNS

        rows = BC_ROWS[:8]
        inputs = []
        for c in BC_COLUMNS:
            t = triton.InferInput(c, [len(rows), 1], "FP64")
            t.set_data_from_numpy(np.array([[r[c]] for r in rows], dtype=np.float64), binary_data=False)
            inputs.append(t)
        outputs = [
            triton.InferRequestedOutput("predict", binary_data=False),
            triton.InferRequestedOutput("predict_proba", binary_data=False),
        ]
        result = client.infer(BC, inputs, outputs=outputs, request_id="triton-1", headers=server.auth)
        labels = [x.decode() if isinstance(x, bytes) else x for x in result.as_numpy("predict").tolist()]
        assert labels == predicted(httpx.post(f"{server.url}{INFER}", json=oip(rows), headers=server.auth))
        assert result.as_numpy("predict_proba").shape == (8, 2)
        assert result.get_response()["id"] == "triton-1"
        assert result.get_response()["model_version"] == "1"

        # a text column (BYTES) and a regression output, on the scikit-learn backend (no ONNX converter)
        cars = CARS_ROWS[:4]
        inputs = []
        for c in CARS_COLUMNS:
            if c == "Origin":
                t = triton.InferInput(c, [len(cars)], "BYTES")
                t.set_data_from_numpy(np.array([r[c] for r in cars], dtype=object), binary_data=False)
            else:
                t = triton.InferInput(c, [len(cars)], "FP64")
                t.set_data_from_numpy(np.array([r[c] for r in cars], dtype=np.float64), binary_data=False)
            inputs.append(t)
        result = client.infer(
            "cars_sklearn",
            inputs,
            outputs=[triton.InferRequestedOutput("predict", binary_data=False)],
            headers=server.auth,
        )
        sklearn_infer = CARS_INFER.replace("cars", "cars_sklearn")
        expected = predicted(httpx.post(f"{server.url}{sklearn_infer}", json=oip(cars), headers=server.auth))
        np.testing.assert_allclose(result.as_numpy("predict"), expected, rtol=1e-12)
    finally:
        client.close()


# --- bad input: 400 naming the field, never 500 --------------------------------------------------------
def _bad_cases() -> list[Any]:
    flat = [r[c] for r in BC3 for c in BC_COLUMNS]
    cases = [
        ("oip-missing-column", INFER, with_input(BC_OIP, "mean_texture", drop=True), "mean_texture"),
        (
            "oip-extra-column",
            INFER,
            {"inputs": [*BC_OIP["inputs"], {**BC_OIP["inputs"][0], "name": "bogus"}]},
            "bogus",
        ),
        ("oip-text-datatype", INFER, with_input(BC_OIP, "mean_texture", datatype="BYTES"), "mean_texture"),
        ("oip-text-value", INFER, with_input(BC_OIP, "mean_area", data=[1.0, "big", 2.0]), "mean_area"),
        (
            "oip-bool-value",
            INFER,
            with_input(BC_OIP, "mean_area", datatype="BOOL", data=[True] * 3),
            "mean_area",
        ),
        (
            "oip-null-not-nullable",
            INFER,
            with_input(BC_OIP, "mean_radius", data=[None, 1.0, 2.0]),
            "mean_radius",
        ),
        ("oip-shape-vs-data", INFER, with_input(BC_OIP, "mean_radius", shape=[5]), "mean_radius"),
        ("oip-column-shape-2d", INFER, with_input(BC_OIP, "mean_radius", shape=[1, 3]), "mean_radius"),
        ("oip-column-shape-3d", INFER, with_input(BC_OIP, "mean_radius", shape=[3, 1, 1]), "mean_radius"),
        ("oip-negative-shape", INFER, with_input(BC_OIP, "mean_radius", shape=[-3]), "mean_radius"),
        ("oip-shape-not-list", INFER, with_input(BC_OIP, "mean_radius", shape=3), "mean_radius"),
        ("oip-data-not-list", INFER, with_input(BC_OIP, "mean_radius", data="1,2,3"), "mean_radius"),
        ("oip-datatype-missing", INFER, with_input(BC_OIP, "mean_radius", datatype=None), "mean_radius"),
        ("oip-nested-value", INFER, with_input(BC_OIP, "mean_radius", data=[1.0, [2.0], 3.0]), "mean_radius"),
        (
            "oip-lengths-differ",
            INFER,
            with_input(BC_OIP, "mean_radius", shape=[2], data=[1.0, 2.0]),
            "lengths",
        ),
        (
            "oip-empty-batch",
            INFER,
            oip(BC3) | {"inputs": [{**t, "shape": [0], "data": []} for t in BC_OIP["inputs"]]},
            "empty",
        ),
        (
            "oip-2d-wrong-width",
            INFER,
            {"inputs": [{"name": "x", "shape": [3, 29], "datatype": "FP64", "data": flat[:87]}]},
            "'x'",
        ),
        (
            "oip-2d-text",
            INFER,
            {"inputs": [{"name": "x", "shape": [3, 30], "datatype": "FP64", "data": ["a"] * 90}]},
            "mean_radius",
        ),
        ("oip-no-inputs", INFER, {"inputs": []}, "inputs"),
        ("oip-inputs-not-list", INFER, {"inputs": {"mean_radius": [1.0]}}, "inputs"),
        ("oip-input-not-object", INFER, {"inputs": [1]}, "inputs[0]"),
        (
            "oip-input-name-missing",
            INFER,
            {"inputs": [{"shape": [1], "datatype": "FP64", "data": [1]}]},
            "inputs[0].name",
        ),
        ("oip-unknown-output", INFER, {**BC_OIP, "outputs": [{"name": "logits"}]}, "logits"),
        ("oip-outputs-not-objects", INFER, {**BC_OIP, "outputs": ["predict"]}, "outputs"),
        (
            "oip-regression-has-no-proba",
            CARS_INFER,
            {**CARS_OIP, "outputs": [{"name": "predict_proba"}]},
            "predict_proba",
        ),
        ("oip-text-column-numbers", CARS_INFER, with_input(CARS_OIP, "Origin", data=[1, 2, 3]), "Origin"),
        ("oip-text-column-fp64", CARS_INFER, with_input(CARS_OIP, "Origin", datatype="FP64"), "Origin"),
        (
            "oip-text-null-not-nullable",
            CARS_INFER,
            with_input(CARS_OIP, "Origin", data=["USA", None, "USA"]),
            "Origin",
        ),
        ("oip-body-not-object", INFER, [BC_OIP], "inputs"),
        ("oip-bad-version", f"/v2/models/{BC}/versions/one/infer", BC_OIP, "version"),
        ("oip-unicode-digit-version", f"/v2/models/{BC}/versions/\u00b2/infer", BC_OIP, "version"),
    ]
    return bad_cases(cases)


@pytest.mark.parametrize(("path", "body", "needle"), _bad_cases())
def test_bad_input_is_400_naming_the_field(api: httpx.Client, path: str, body: Any, needle: str) -> None:
    assert_bad_input(api, path, body, needle)


def test_the_server_logged_no_internal_error(server: Server) -> None:
    """Runs last in this module: nothing above made the server answer 500 or log a traceback."""
    assert_no_internal_error(server.output())
