"""`registry.lookup`: the champion and its card read from a real MLflow SQLite registry without MLflow,
the same answers and errors as through `MlflowClient`."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from airfoil.errors import DataError, RegistryError
from airfoil.registry import lookup
from airfoil.registry.client import client
from airfoil.settings import load_settings


def test_the_schema_revision_is_the_installed_mlflows_head() -> None:
    import mlflow

    versions = Path(mlflow.__file__).parent / "store" / "db_migrations" / "versions"
    revisions, parents = set(), set()
    for path in versions.glob("*.py"):
        text = path.read_text()
        found = re.search(r'^revision\s*=\s*"([^"]+)"', text, re.M)
        down = re.search(r"^down_revision\s*=\s*(.*)$", text, re.M)
        if found:
            revisions.add(found.group(1))
            parents.update(re.findall(r'"([^"]+)"', down.group(1) if down else ""))
    assert revisions - parents == {lookup.MLFLOW_SCHEMA}


@pytest.fixture
def registry(tmp_path: Path):
    """A home whose MLflow SQLite registry has `breast_cancer` v1 (files for a card) and v2."""
    settings = load_settings({"AIRFOIL_HOME": str(tmp_path / "home")})
    c = client(settings)
    c.create_registered_model("breast_cancer")
    location = tmp_path / "artifacts" / "v1"
    location.mkdir(parents=True)
    (location / "model.skops").write_bytes(b"model bytes")
    (location / "input_example.json").write_text('{"columns": ["a"], "data": [[1.0]]}')
    tags = {
        "sha256": hashlib.sha256(b"model bytes").hexdigest(),
        "serving_uri": str(tmp_path / "serving.json"),
        "serving_sha256": "0" * 64,
        "test_metrics": '{"f1": 0.9}',
        "estimator": "x",
    }
    c.create_model_version("breast_cancer", f"file://{location}", tags=tags)
    c.create_model_version("breast_cancer", f"file://{tmp_path / 'artifacts' / 'v2'}")
    return settings, c, location, tags


def test_the_champion_and_its_card_come_from_mlflows_tables(registry) -> None:
    settings, c, location, tags = registry
    c.set_registered_model_alias("breast_cancer", "champion", "1")
    version, card = lookup.champion(settings, "breast_cancer")
    assert version == 1
    assert card is not None
    assert card["model_ref"] == {"uri": f"file://{location}/model.skops", "sha256": tags["sha256"]}
    assert card["tags"] == {k: tags[k] for k in ("serving_uri", "serving_sha256", "test_metrics")}
    assert card["example"] == {"columns": ["a"], "data": [[1.0]]}


def test_a_version_without_serving_files_has_no_card(registry) -> None:
    settings, c, _, _ = registry
    c.set_registered_model_alias("breast_cancer", "champion", "2")
    assert lookup.champion(settings, "breast_cancer") == (2, None)


def test_a_model_file_that_changed_is_refused(registry) -> None:
    settings, c, location, _ = registry
    c.set_registered_model_alias("breast_cancer", "champion", "1")
    (location / "model.skops").write_bytes(b"other bytes")
    with pytest.raises(Exception, match="sha256"):
        lookup.champion(settings, "breast_cancer")


def test_no_champion_and_no_model_say_so_as_before(registry, tmp_path: Path) -> None:
    settings, _, _, _ = registry
    with pytest.raises(DataError, match="model 'breast_cancer' has no champion to score with"):
        lookup.champion(settings, "breast_cancer")
    with pytest.raises(RegistryError, match="no registered model named 'other'"):
        lookup.champion(settings, "other")
    fresh = load_settings({"AIRFOIL_HOME": str(tmp_path / "fresh")})
    with pytest.raises(RegistryError, match="no registered model named 'breast_cancer'"):
        lookup.champion(fresh, "breast_cancer")
    assert not (tmp_path / "fresh" / "mlflow.db").exists()  # looking did not create a registry


def test_the_champion_and_its_card_come_from_mlflows_rest_api(registry, tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    settings, c, location, tags = registry
    c.set_registered_model_alias("breast_cancer", "champion", "1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", settings.tracking_uri, "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).close()
                break
            except OSError:
                assert server.poll() is None, "mlflow server exited"
                assert time.monotonic() < deadline, "mlflow server did not answer within 120 s"
                time.sleep(0.5)
        remote = load_settings({"AIRFOIL_HOME": str(tmp_path / "remote"), "AIRFOIL_TRACKING_URI": url})
        version, card = lookup.champion(remote, "breast_cancer")
        assert version == 1 and card is not None
        assert card["model_ref"] == {"uri": f"file://{location}/model.skops", "sha256": tags["sha256"]}
        with pytest.raises(RegistryError, match="no registered model named 'other'"):
            lookup.champion(remote, "other")
        c.delete_registered_model_alias("breast_cancer", "champion")
        with pytest.raises(DataError, match="has no champion to score with"):
            lookup.champion(remote, "breast_cancer")
    finally:
        server.terminate()
        server.wait(timeout=30)
