"""The prediction API as a client sees it: a real `airfoil serve` on a free port, over HTTP.

One registry (breast_cancer served through ONNX, cars through scikit-learn with a text column) and
one server for the whole module; the server runs with AIRFOIL_MAX_ROWS=200,
AIRFOIL_MAX_BODY_BYTES=200000 and AIRFOIL_MAX_INFLIGHT=4 so the limits are cheap to reach.
"""

from __future__ import annotations

import csv
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import EXAMPLES
from tests.integration.conftest import Airfoil, Server, serving

pytestmark = pytest.mark.integration

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


@pytest.fixture(scope="module")
def server(champions_registry: Airfoil, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    af = Airfoil(home=champions_registry.home, workdir=tmp_path_factory.mktemp("serve"))
    env = {
        "AIRFOIL_MAX_ROWS": str(MAX_ROWS),
        "AIRFOIL_MAX_BODY_BYTES": str(MAX_BODY),
        "AIRFOIL_MAX_INFLIGHT": str(MAX_INFLIGHT),
    }
    with serving(af, **env) as s:
        yield s


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def predicted(response: httpx.Response, output: str = "predict") -> list[Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    if "predictions" in body:
        return list(body["predictions"])
    [out] = [o for o in body["outputs"] if o["name"] == output]
    return list(out["data"])


# --- health, metadata ------------------------------------------------------------------------------
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

    cars = api.get(f"/v2/models/cars{suffix}").json()
    assert cars["platform"] == "scikit-learn"
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


def test_models_list(api: httpx.Client) -> None:
    models = {m["name"]: m for m in api.get("/v1/models").json()["models"]}
    assert set(models) == {BC, "cars"}
    assert models[BC]["champion"] == 1 and models[BC]["backend"] == "onnx"
    assert models["cars"]["champion"] == 1 and models["cars"]["backend"] == "sklearn"
    assert "f1" in models[BC]["metrics"] and "rmse" in models["cars"]["metrics"]


def test_openapi_document(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    paths = doc["paths"]
    for p in (
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
        "/v1/models/{name}/invocations",
    ):
        assert "requestBody" in paths[p]["post"], p
    assert "/v2/health/ready" in paths and "/metrics" in paths


# --- predictions ------------------------------------------------------------------------------------
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

    cars_rows = CARS_ROWS[:40]
    cars_model, _ = load_version(settings, "cars", 1)
    expected = cars_model.predict(pd.DataFrame(cars_rows, columns=CARS_COLUMNS).astype({"Origin": object}))
    np.testing.assert_allclose(predicted(api.post(CARS_INFER, json=oip(cars_rows))), expected, rtol=1e-9)
    np.testing.assert_allclose(
        predicted(api.post(CARS_INVOKE, json={"dataframe_records": cars_rows})), expected, rtol=1e-9
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

        # a text column (BYTES) and a regression output, on the scikit-learn backend
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
            "cars",
            inputs,
            outputs=[triton.InferRequestedOutput("predict", binary_data=False)],
            headers=server.auth,
        )
        expected = predicted(httpx.post(f"{server.url}{CARS_INFER}", json=oip(cars), headers=server.auth))
        np.testing.assert_allclose(result.as_numpy("predict"), expected, rtol=1e-12)
    finally:
        client.close()


# --- auth ---------------------------------------------------------------------------------------------
PROTECTED = [
    ("GET", "/v2"),
    ("GET", f"/v2/models/{BC}"),
    ("GET", f"/v2/models/{BC}/ready"),
    ("GET", f"/v2/models/{BC}/versions/1"),
    ("GET", f"/v2/models/{BC}/versions/1/ready"),
    ("POST", INFER),
    ("POST", f"/v2/models/{BC}/versions/1/infer"),
    ("POST", INVOKE),
    ("GET", "/v1/models"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/no/such/route"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "test-token"},
        {"Authorization": "Basic dGVzdA=="},
    ],
    ids=["none", "wrong", "no-scheme", "basic"],
)
def test_every_route_but_health_needs_the_token(
    server: Server, method: str, path: str, headers: dict[str, str]
) -> None:
    r = httpx.request(
        method, f"{server.url}{path}", headers=headers, json=BC_OIP if method == "POST" else None
    )
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert "bearer token" in r.json()["error"]
    assert "X-Model-Version" not in r.headers


# --- bad input: 400 naming the field, never 500 --------------------------------------------------------
def _bad_cases() -> list[Any]:
    flat = [r[c] for r in BC3 for c in BC_COLUMNS]
    cases = [
        # Open Inference Protocol
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
        # MLflow scoring formats
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
    return [pytest.param(path, body, needle, id=case) for case, path, body, needle in cases]


@pytest.mark.parametrize(("path", "body", "needle"), _bad_cases())
def test_bad_input_is_400_naming_the_field(api: httpx.Client, path: str, body: Any, needle: str) -> None:
    r = api.post(path, json=body)
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"], r.json()
    if "/versions/" not in path:  # the model is known: the answer says which version refused it
        assert r.headers["X-Model-Version"] == "1"


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"",
        b"not json",
        b"\xff\xfe",
        b'{"inputs": [{"name": "mean_radius", "shape": [1], "datatype": "FP64", "data": [NaN]}]}',
        b'{"inputs": [{"name": "mean_radius", "shape": [1], "datatype": "FP64", "data": [Infinity]}]}',
        b'{"inputs": [{"name": "mean_radius", "shape": [1], "datatype": "FP64", "data": [1e999]}]}',
    ],
    ids=["truncated", "empty", "text", "not-utf8", "nan", "infinity", "overflow"],
)
@pytest.mark.parametrize("path", [INFER, INVOKE])
def test_body_that_is_not_json_is_400(api: httpx.Client, path: str, raw: bytes) -> None:
    r = api.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert "JSON" in r.json()["error"]


def test_large_integers_are_numbers_not_errors(api: httpx.Client) -> None:
    raw = json.dumps(BC_OIP).replace(json.dumps(BC3[0]["mean_area"]), "18446744073709551616", 1)
    r = api.post(INFER, content=raw.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400), r.text


# --- limits ---------------------------------------------------------------------------------------------
def test_too_many_rows_is_413(api: httpx.Client) -> None:
    rows = (BC_ROWS * 2)[: MAX_ROWS + 1]
    r = api.post(INFER, json=oip(rows))
    assert r.status_code == 413 and f"limit of {MAX_ROWS}" in r.json()["error"]
    assert r.headers["X-Model-Version"] == "1"
    r = api.post(INVOKE, json={"dataframe_records": rows})
    assert r.status_code == 413
    cars = (CARS_ROWS * 2)[: MAX_ROWS + 1]
    assert api.post(CARS_INVOKE, json={"inputs": columns_of(cars)}).status_code == 413
    # exactly at the limit is fine
    assert len(predicted(api.post(INFER, json=oip(rows[:MAX_ROWS])))) == MAX_ROWS


def test_too_large_body_is_413(api: httpx.Client) -> None:
    big = json.dumps({"inputs": columns_of(BC3), "padding": "x" * MAX_BODY}).encode()
    r = api.post(INVOKE, content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and f"limit of {MAX_BODY} bytes" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it is read
        for i in range(0, len(big), 16384):
            yield big[i : i + 16384]

    r = api.post(INFER, content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and f"limit of {MAX_BODY} bytes" in r.json()["error"]


def test_overload_sheds_with_503(server: Server, api: httpx.Client) -> None:
    """MAX_INFLIGHT requests that have not finished sending their body hold every slot: the next is shed."""
    body = json.dumps(BC_OIP).encode()
    head = (
        f"POST {INFER} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    port = int(server.url.rsplit(":", 1)[1])
    held = []
    try:
        for _ in range(MAX_INFLIGHT):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(head + body[:10])
            held.append(s)
        r = api.post(INFER, json=BC_OIP)
        for _ in range(50):  # the held requests reach the app asynchronously
            if r.status_code == 503:
                break
            r = api.post(INFER, json=BC_OIP)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "1" and "capacity" in r.json()["error"]
        for s in held:  # the held requests finish normally
            s.sendall(body[10:])
            answer = s.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    finally:
        for s in held:
            s.close()
    assert predicted(api.post(INFER, json=BC_OIP))
    assert "airfoil_shed_total" in api.get("/metrics").text


# --- every prediction answer says which version made it; metrics ----------------------------------------
def test_every_prediction_answer_carries_the_model_version(api: httpx.Client) -> None:
    for path, body in [
        (INFER, BC_OIP),
        (f"/v2/models/{BC}/versions/1/infer", BC_OIP),
        (INVOKE, {"dataframe_records": BC3}),
        (CARS_INFER, CARS_OIP),
        (CARS_INVOKE, {"dataframe_records": CARS_ROWS[:3]}),
        (INFER, {"inputs": []}),  # refused, but by version 1
        (CARS_INVOKE, {"instances": "x"}),
    ]:
        r = api.post(path, json=body)
        assert r.headers["X-Model-Version"] == "1", (path, r.status_code, r.text)


def test_metrics(api: httpx.Client) -> None:
    api.post(INFER, json=BC_OIP)
    api.post(CARS_INVOKE, json={"dataframe_records": CARS_ROWS[:3]})
    api.post(INFER, json={"inputs": []})
    r = api.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    ok = 'airfoil_requests_total{code="200",model="breast_cancer",protocol="oip",version="1"}'
    assert samples[ok] >= 1
    assert samples['airfoil_requests_total{code="200",model="cars",protocol="mlflow",version="1"}'] >= 1
    assert samples['airfoil_requests_total{code="400",model="breast_cancer",protocol="oip",version="1"}'] >= 1
    assert samples['airfoil_model_version{model="breast_cancer"}'] == 1
    assert samples['airfoil_model_loads_total{model="cars",result="loaded",version="1"}'] >= 1
    assert samples['airfoil_rows_predicted_total{model="breast_cancer",version="1"}'] >= 3
    assert not any(k.startswith('airfoil_errors_total{code="500"') for k in samples), r.text


def test_the_server_logged_no_internal_error(server: Server) -> None:
    """Runs last in this module: nothing above made the server answer 500 or log a traceback."""
    log = server.output()
    assert "unexpected error" not in log and "Traceback" not in log, log[-5000:]
