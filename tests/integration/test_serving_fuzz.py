"""Fuzz every operation of the live server's OpenAPI document: no generated input gets a 5xx.

schemathesis generates valid and invalid requests (both of its generation modes) from
/openapi.json. Only "not a server error" is asserted, against the real server, with the token. The
schema-conformance checks of `case.call_and_validate()` are left out on purpose, because the
server answers by design with codes and bodies FastAPI's generated document does not list:
400/404/413 with {"error": ...} (the document only names 200 and 422), 401 from the guard, and
`text/plain` from /metrics. Those checks would fail for reasons other than a 5xx.

`name` is steered to a served model three times in four (breast_cancer: numbers, ONNX; cars: a text
column, ONNX; cars_sklearn: the same columns, scikit-learn) so the bodies reach input parsing instead
of stopping at 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.integration.conftest import Airfoil, Server, serving

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzz_server(champions_registry: Airfoil, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    af = Airfoil(home=champions_registry.home, workdir=tmp_path_factory.mktemp("fuzz"))
    with serving(af, AIRFOIL_MAX_ROWS="1000", AIRFOIL_MAX_BODY_BYTES="1000000") as server:
        yield server


@pytest.fixture(scope="module")
def api_schema(fuzz_server: Server) -> Any:
    return schemathesis.openapi.from_url(
        f"{fuzz_server.url}/openapi.json", headers=fuzz_server.auth, timeout=30
    )


# Every operation of the document; `test_every_operation_is_fuzzed` fails when a route is added.
# (A static list rather than `schemathesis.pytest.from_fixture`, whose lazy loader fails under
# pytest 9: "'Function' object has no attribute '_nodeid'".)
OPERATIONS = [
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
    ("GET", "/v2"),
    ("GET", "/v2/models/{name}"),
    ("GET", "/v2/models/{name}/ready"),
    ("POST", "/v2/models/{name}/infer"),
    ("GET", "/v2/models/{name}/versions/{version}"),
    ("GET", "/v2/models/{name}/versions/{version}/ready"),
    ("POST", "/v2/models/{name}/versions/{version}/infer"),
    ("POST", "/v1/models/{name}/invocations"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/{name}/monitor"),
    ("GET", "/v1/models/{name}/report"),
    ("GET", "/metrics"),
    ("POST", "/v1/models/{name}/transient"),
    ("GET", "/v1/predictions/{request_id}"),
]


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    documented = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_generated_request_gets_a_server_error(
    api_schema: Any, fuzz_server: Server, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    modes = [GenerationMode.POSITIVE]
    if operation.body or operation.path_parameters:
        modes.append(GenerationMode.NEGATIVE)
    cases = st.one_of(*(operation.as_strategy(generation_mode=m) for m in modes))

    @given(case=cases, model=st.sampled_from(["breast_cancer", "cars", "cars_sklearn", None]))
    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,  # the same examples every run: a failure here reproduces
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def fuzz(case: Any, model: str | None) -> None:
        if model is not None and "name" in (case.path_parameters or {}):
            case.path_parameters = {**case.path_parameters, "name": model}
        response = case.call(base_url=fuzz_server.url, headers=fuzz_server.auth, timeout=30)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}\n"
            f"body: {str(case.body)[:500]}"
        )

    fuzz()


def test_the_fuzzed_server_logged_no_internal_error(fuzz_server: Server) -> None:
    log = fuzz_server.output()
    assert "unexpected error" not in log and "Traceback" not in log, log[-5000:]
