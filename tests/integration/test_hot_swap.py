"""Champions swapped under load: a client never sees an error, and a corrupted version never answers.

breast_cancer gets three versions; v3's model file is corrupted on disk (its sha256 no longer
matches the registry tag). While a client thread sends valid requests without pause, the main
thread promotes v2, points the alias at v3 behind airfoil's back (as someone using MLflow directly
would), promotes v1, and rolls back to v2.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Airfoil, Server, serving

pytestmark = pytest.mark.integration

BC = "breast_cancer"
POLL = 0.5
# A poll notices the alias, then the version loads (artifacts, sha256, ONNX session, smoke test):
# the new version must answer within two polls plus that load.
SWAP_WITHIN = 2 * POLL + 2.5
ROW = {
    "mean_radius": 17.99, "mean_texture": 10.38, "mean_perimeter": 122.8, "mean_area": 1001.0,
    "mean_smoothness": 0.1184, "mean_compactness": 0.2776, "mean_concavity": 0.3001,
    "mean_concave_points": 0.1471, "mean_symmetry": 0.2419, "mean_fractal_dimension": 0.07871,
    "radius_error": 1.095, "texture_error": 0.9053, "perimeter_error": 8.589, "area_error": 153.4,
    "smoothness_error": 0.006399, "compactness_error": 0.04904, "concavity_error": 0.05373,
    "concave_points_error": 0.01587, "symmetry_error": 0.03003, "fractal_dimension_error": 0.006193,
    "worst_radius": 25.38, "worst_texture": 17.33, "worst_perimeter": 184.6, "worst_area": 2019.0,
    "worst_smoothness": 0.1622, "worst_compactness": 0.6656, "worst_concavity": 0.7119,
    "worst_concave_points": 0.2654, "worst_symmetry": 0.4601, "worst_fractal_dimension": 0.1189,
}  # fmt: skip
OIP = {"inputs": [{"name": k, "shape": [1], "datatype": "FP64", "data": [v]} for k, v in ROW.items()]}
MLFLOW = {"dataframe_records": [ROW, ROW]}
TAMPER = b"\0tampered"


@dataclass
class Answer:
    at: float
    status: int
    version: str | None
    detail: str = ""


@dataclass
class Load:
    """A client sending valid requests back to back, alternating the two protocols."""

    server: Server
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    max_seconds: float = 150
    max_requests: int = 50_000

    def run(self) -> None:
        started = time.monotonic()
        with self.server.client(timeout=10) as c:
            i = 0
            while (
                not self.stop.is_set()
                and i < self.max_requests
                and time.monotonic() - started < self.max_seconds
            ):
                path, body = (
                    (f"/v2/models/{BC}/infer", OIP)
                    if i % 2 == 0
                    else (f"/v1/models/{BC}/invocations", MLFLOW)
                )
                try:
                    r = c.post(path, json=body)
                    ok = r.status_code < 300
                    self.answers.append(
                        Answer(
                            time.monotonic(),
                            r.status_code,
                            r.headers.get("X-Model-Version"),
                            "" if ok else r.text,
                        )
                    )
                except httpx.HTTPError as exc:
                    self.answers.append(Answer(time.monotonic(), 0, None, repr(exc)))
                i += 1
                time.sleep(0.005)

    def first_answer_by(self, version: int, after: float, timeout: float = 30) -> float:
        """Seconds from `after` until an answer made by `version` (fails after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hit = next((a for a in list(self.answers) if a.at >= after and a.version == str(version)), None)
            if hit is not None:
                return hit.at - after
            time.sleep(0.05)
        seen = sorted({a.version for a in self.answers if a.at >= after}, key=str)
        raise AssertionError(f"v{version} never answered within {timeout} s; versions seen since: {seen}")


@pytest.fixture(scope="module")
def three_versions(champions_registry: Airfoil, tmp_path_factory: pytest.TempPathFactory) -> Airfoil:
    """A registry of its own with breast_cancer v1 (champion), v2 and v3; v3's model file is corrupted.

    Starts from a copy of the shared registry's database (its v1 artifacts are only read), then
    registers v2 and v3 with MLflow from copies of v1's artifacts: versions in seconds, not Airflow runs.
    """
    from airfoil.registry.client import client
    from airfoil.settings import load_settings

    workdir = tmp_path_factory.mktemp("hot_swap")
    af = Airfoil(home=workdir / "home", workdir=workdir)
    af.home.mkdir()
    shutil.copy(champions_registry.home / "mlflow.db", af.home / "mlflow.db")
    c = client(load_settings({"AIRFOIL_HOME": str(af.home)}))
    v1 = c.get_model_version(BC, "1")
    source = Path(c.get_model_version_download_uri(BC, "1").removeprefix("file://"))
    for n in (2, 3):
        copy = af.home / "artifacts" / "versions" / f"v{n}"
        shutil.copytree(source, copy)
        assert int(c.create_model_version(BC, str(copy), run_id=v1.run_id, tags=v1.tags).version) == n
    assert c.get_registered_model(BC).aliases == {"champion": 1}

    model = Path(c.get_model_version_download_uri(BC, "3").removeprefix("file://")) / "model.skops"
    assert model.is_file(), model
    with model.open("ab") as f:  # still a readable zip, but not the bytes the registry's sha256 names
        f.write(TAMPER)
    return af


def test_swaps_under_load_never_fail_and_never_serve_the_corrupted_version(three_versions: Airfoil) -> None:
    from airfoil.registry.client import CHAMPION, client
    from airfoil.settings import load_settings

    af = three_versions
    mlflow = client(load_settings({"AIRFOIL_HOME": str(af.home)}))
    with serving(af, AIRFOIL_POLL_SECONDS=str(POLL)) as server:
        load = Load(server)
        thread = threading.Thread(target=load.run, name="hot-swap-client", daemon=True)
        thread.start()
        try:
            assert load.first_answer_by(1, after=0) >= 0

            def swap(action: Callable[[], object], version: int) -> float:
                action()
                return load.first_answer_by(version, after=time.monotonic())

            took = {
                "promote v2": swap(lambda: af("models", "promote", BC, "2"), 2),
            }
            # The alias moved outside airfoil onto the corrupted v3: the server refuses it, keeps v2.
            mlflow.set_registered_model_alias(BC, CHAMPION, "3")
            moved = time.monotonic()
            failed = 'airfoil_model_loads_total{model="breast_cancer",result="failed",version="3"} 1.0'
            with server.client() as c:
                while failed not in c.get("/metrics").text:
                    assert time.monotonic() - moved < 10, "the corrupted v3 was never tried"
                    time.sleep(0.1)
                time.sleep(3 * POLL)  # a few more polls: it is not retried, v2 keeps answering
                r = c.post(f"/v2/models/{BC}/versions/3/infer", json=OIP)  # not even when asked by name
                assert r.status_code == 404, r.text
                assert c.get("/v1/models").json()["models"][0]["champion"] == 2
            assert {a.version for a in load.answers if a.at > moved} == {"2"}

            took["promote v1"] = swap(lambda: af("models", "promote", BC, "1"), 1)
            took["rollback to v2"] = swap(lambda: af("models", "rollback", BC), 2)
            time.sleep(2 * POLL)
        finally:
            load.stop.set()
            thread.join(timeout=20)
        assert not thread.is_alive()

        answers = load.answers
        assert len(answers) > 100, f"the client sent only {len(answers)} requests"
        bad = [a for a in answers if not 200 <= a.status < 300]
        assert not bad, f"{len(bad)} of {len(answers)} valid requests failed, e.g. {bad[:3]}"
        versions = [a.version for a in answers]
        assert "3" not in versions
        assert set(versions) == {"1", "2"}
        assert versions[-1] == "2"  # after the rollback
        for what, seconds in took.items():
            assert seconds <= SWAP_WITHIN, f"{what}: the API took {seconds:.2f} s to answer with it"

        with server.client() as c:
            metrics = c.get("/metrics").text
        assert 'airfoil_model_loads_total{model="breast_cancer",result="failed",version="3"}' in metrics
        assert 'airfoil_model_version{model="breast_cancer"} 2.0' in metrics
        log = server.output()
        assert "not serving breast_cancer v3" in log and "sha256" in log.lower()
        assert "unexpected error" not in log

        # Repaired (the original bytes back) and made champion again: a refused version is retried
        # once the alias has moved on and comes back, without restarting the server.
        model = three_versions.home / "artifacts" / "versions" / "v3" / "model.skops"
        model.write_bytes(model.read_bytes().removesuffix(TAMPER))
        mlflow.set_registered_model_alias(BC, CHAMPION, "3")
        with server.client() as c:
            deadline = time.monotonic() + SWAP_WITHIN + 2
            while (r := c.post(f"/v2/models/{BC}/infer", json=OIP)).headers["X-Model-Version"] != "3":
                assert r.status_code == 200, r.text
                assert time.monotonic() < deadline, "the repaired v3 was never served"
                time.sleep(0.1)
