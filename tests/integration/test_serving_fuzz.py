"""The API contract, checked the way a user would check it: `schemathesis run --checks all` against
a live `airfoil serve` with a token. It must find nothing.

Every check is on: no 5xx; every status code, content type, header and body is the one the
document (/openapi.json) gives; a request the schema allows is not refused and one it forbids is;
no route answers without the token; undeclared methods get 405 with `Allow`.
tests/integration/schemathesis.toml names the served models, so bodies reach the models' checks,
and says why the prediction routes may refuse a schema-valid body with 400.

Budget: 30 examples per operation in the fuzzing phase, the same depth as the fuzz this run
replaced. The coverage phase adds every boundary, missing and wrongly-typed value of every
parameter and body field, whatever the budget. On the server before the contract was written, this
budget finds every kind of failure the issue counted (ST103, ST105, ST202, ST204). The stateful
phase is off: its links lead from GET /v1/models to the names the dictionary already gives. Its
resource checks need an operation that creates something, and no transient pipeline is served
here. Measured with schemathesis alone on 2 busy cores: 32 s without it, 73 s with it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import BIN, Airfoil, Server, serving

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 30


@pytest.fixture(scope="module")
def fuzz_server(champions_registry: Airfoil, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    af = Airfoil(home=champions_registry.home, workdir=tmp_path_factory.mktemp("fuzz"))
    with serving(af, AIRFOIL_MAX_ROWS="1000", AIRFOIL_MAX_BODY_BYTES="1000000") as server:
        yield server


def schemathesis_run(server: Server, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`schemathesis run --checks all` on the server's document, with its token, reproducibly."""
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {server.token}",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        "1",  # the same requests every run: a failure here reproduces
        "--generation-database",
        "none",
        # Hypothesis' health checks judge how fast data is generated (machine load), not the API.
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "60",
        "--no-color",
    ]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)


def test_schemathesis_finds_no_failure(fuzz_server: Server, tmp_path: Path) -> None:
    with fuzz_server.client() as api:
        paths = api.get("/openapi.json").json()["paths"]
    run = schemathesis_run(fuzz_server, tmp_path)
    output = f"{run.stdout}\n{run.stderr}"
    assert run.returncode == 0, output
    tested = re.search(r"Tested: (\d+)", output)  # every operation of the document was exercised
    assert tested is not None and int(tested.group(1)) == sum(map(len, paths.values())), output


def test_the_fuzzed_server_logged_no_internal_error(fuzz_server: Server) -> None:
    log = fuzz_server.output()
    assert "unexpected error" not in log and "Traceback" not in log, log[-5000:]
