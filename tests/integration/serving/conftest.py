"""One `airfoil serve` per test module, over the session's registry of three champions: breast_cancer
and cars (a text column) served through ONNX, cars_sklearn (the same columns, a model without ONNX
converter) through scikit-learn."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import Airfoil, Server, serving
from tests.integration.serving.support import MAX_BODY, MAX_INFLIGHT, MAX_ROWS


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
