"""airfoil's own routes and the guard around every route: the models served, the OpenAPI document,
the token, bodies that are not JSON, the row / body / capacity limits, the version on every answer,
Prometheus metrics."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.integration.conftest import Server
from tests.integration.serving.support import (
    BC,
    BC3,
    BC_OIP,
    BC_ROWS,
    CARS_INFER,
    CARS_INVOKE,
    CARS_OIP,
    CARS_ROWS,
    INFER,
    INVOKE,
    MAX_BODY,
    MAX_INFLIGHT,
    MAX_ROWS,
    assert_no_internal_error,
    columns_of,
    oip,
    predicted,
)

pytestmark = pytest.mark.integration


def test_models_list(api: httpx.Client) -> None:
    models = {m["name"]: m for m in api.get("/v1/models").json()["models"]}
    assert set(models) == {BC, "cars", "cars_sklearn"}
    assert models[BC]["champion"] == 1 and models[BC]["backend"] == "onnx"
    assert models["cars"]["champion"] == 1 and models["cars"]["backend"] == "onnx"  # HistGradientBoosting
    assert models["cars_sklearn"]["champion"] == 1 and models["cars_sklearn"]["backend"] == "sklearn"
    assert "f1" in models[BC]["metrics"] and "rmse" in models["cars"]["metrics"]


def test_openapi_document(api: httpx.Client) -> None:
    """What a client generated from /openapi.json is told (schemathesis checks that it holds)."""
    doc = api.get("/openapi.json").json()
    paths = doc["paths"]
    bearer = doc["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer") and doc["security"] == [{"bearer": []}]
    error_body = {"$ref": "#/components/schemas/Error"}
    for path, item in paths.items():
        for method, op in item.items():
            answers = op["responses"]
            assert "422" not in answers, (method, path)  # a request FastAPI cannot read is a 400 here
            if path.startswith("/v2/health/"):
                assert op["security"] == [] and "401" not in answers
                continue
            assert answers["401"]["headers"]["WWW-Authenticate"]["required"], (method, path)
            assert "503" in answers and ("413" in answers) == ("requestBody" in op), (method, path)
            for code in {"400", "401", "404", "409", "413", "503"} & set(answers):
                assert answers[code]["content"]["application/json"]["schema"] == error_body, (method, path)
    for p in (INFER, INVOKE):
        post = paths[p.replace(BC, "{name}")]["post"]
        assert {"200", "400", "404", "413"} <= set(post["responses"]), p
    body = paths["/v2/models/{name}/infer"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/InferenceRequest"}  # one named type for clients
    tensor = doc["components"]["schemas"]["InferenceRequest"]["properties"]["inputs"]["items"]["properties"]
    assert "FP16" in tensor["datatype"]["enum"] and "BOOL" not in tensor["datatype"]["enum"]
    assert tensor["shape"]["prefixItems"][0]["maximum"] == MAX_ROWS
    versioned = paths["/v2/models/{name}/versions/{version}"]["get"]["parameters"]
    assert [p["name"] for p in versioned] == ["name", "version"]
    assert versioned[1]["schema"] == {"type": "integer", "minimum": 1}
    assert [p["name"] for p in paths["/v2/models/{name}"]["get"]["parameters"]] == ["name"]
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    assert set(paths["/v1/models/{name}/report"]["get"]["responses"]["200"]["content"]) == {"text/html"}


@pytest.mark.parametrize(
    ("method", "path", "body", "template"),
    [
        ("POST", INFER, BC_OIP, "/v2/models/{name}/infer"),
        ("POST", CARS_INFER, CARS_OIP, "/v2/models/{name}/infer"),
        ("POST", f"/v2/models/{BC}/versions/1/infer", BC_OIP, "/v2/models/{name}/versions/{version}/infer"),
        ("POST", INVOKE, {"dataframe_records": BC3}, "/v1/models/{name}/invocations"),
        ("POST", CARS_INVOKE, {"dataframe_records": CARS_ROWS[:2]}, "/v1/models/{name}/invocations"),
        ("POST", INFER, {"inputs": BC_OIP["inputs"][:2]}, "/v2/models/{name}/infer"),  # 400
        ("POST", "/v2/models/nope/infer", BC_OIP, "/v2/models/{name}/infer"),  # 404
        ("GET", f"/v2/models/{BC}", None, "/v2/models/{name}"),
        ("GET", "/v2/models/cars/versions/1/ready", None, "/v2/models/{name}/versions/{version}/ready"),
        ("GET", "/v2/models/cars/versions/x", None, "/v2/models/{name}/versions/{version}"),  # 400
        ("GET", "/v2", None, "/v2"),
        ("GET", "/v1/models", None, "/v1/models"),
        ("GET", "/v2/health/ready", None, "/v2/health/ready"),
    ],
)
def test_answers_are_the_documented_ones(
    api: httpx.Client, method: str, path: str, body: Any, template: str
) -> None:
    """Real answers (200s included, which random bodies never reach) against the document."""
    doc = api.get("/openapi.json").json()
    r = api.request(method, path, json=body)
    documented = doc["paths"][template][method.lower()]["responses"][str(r.status_code)]
    schema = documented["content"][r.headers["Content-Type"]]["schema"]
    Draft202012Validator({**schema, "components": doc["components"]}).validate(r.json())
    for name, header in documented.get("headers", {}).items():
        assert name in r.headers or not header.get("required"), name


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", INFER, "POST"),
        ("PUT", INVOKE, "POST"),
        ("DELETE", f"/v2/models/{BC}", "GET"),
        ("POST", "/v1/models", "GET"),
        ("OPTIONS", f"/v2/models/{BC}/versions/1/ready", "GET"),
        ("PATCH", "/v2/health/live", "GET"),
    ],
)
def test_a_method_the_path_lacks_is_405_with_allow(
    api: httpx.Client, method: str, path: str, allow: str
) -> None:
    r = api.request(method, path)
    assert r.status_code == 405, r.text
    assert r.headers["Allow"] == allow and "error" in r.json()


def test_the_champion_routes_ignore_a_version_query(api: httpx.Client) -> None:
    r = api.get(f"/v2/models/{BC}", params={"version": "7"})  # no such version: the champion answers
    assert r.status_code == 200 and r.headers["X-Model-Version"] == "1"


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
    assert_no_internal_error(server.output())
