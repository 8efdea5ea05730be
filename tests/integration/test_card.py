"""A version's card: a process holding one loads the model from the artifact store alone. The batch
DAG's `score` tasks (a new process per block on a cluster) never import MLflow, and every sha256 is
still checked."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from airfoil.errors import UnsafeModelError
from airfoil.registry.card import model_card
from airfoil.registry.client import client
from airfoil.registry.loaded import load_card, load_model
from airfoil.registry.versions import champion_version
from airfoil.settings import load_settings
from tests.integration.conftest import Airfoil

pytestmark = pytest.mark.integration

LOAD = """
import json, sys, time
started = time.perf_counter()
from airfoil.registry.loaded import load_card
model = load_card(json.loads(sys.stdin.read()))
rows = {c: [1.0] * 3 if t == "number" else ["x"] * 3 for c, t in model._columns}
labels, _ = model.predict(rows)
heavy = sorted(m for m in ("mlflow", "sqlalchemy", "alembic") if m in sys.modules)
print(json.dumps({"backend": model.backend, "labels": labels, "heavy": heavy,
                  "seconds": time.perf_counter() - started}))
"""


def _card(af: Airfoil, name: str) -> tuple[Any, dict[str, Any]]:
    settings = load_settings({"AIRFOIL_HOME": str(af.home)})
    version = champion_version(client(settings), name)
    assert version is not None
    card = model_card(settings, name, version)
    assert card is not None
    return settings, card


@pytest.mark.parametrize(("name", "backend"), [("breast_cancer", "onnx"), ("cars_sklearn", "sklearn")])
def test_a_card_loads_the_model_without_mlflow(champions_registry: Airfoil, name: str, backend: str) -> None:
    settings, card = _card(champions_registry, name)
    out = subprocess.run(
        [sys.executable, "-c", LOAD], input=json.dumps(card), capture_output=True, text=True, check=True
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["heavy"] == [] and loaded["backend"] == backend, loaded
    # the same answers as the model loaded through the registry
    through_registry = load_model(settings, name, card["version"])
    rows = {c: [1.0] * 3 if t == "number" else ["x"] * 3 for c, t in through_registry._columns}
    assert through_registry.predict(rows)[0] == loaded["labels"]


def test_a_card_whose_files_changed_is_refused(champions_registry: Airfoil) -> None:
    _, card = _card(champions_registry, "breast_cancer")
    card["tags"]["serving_sha256"] = "0" * 64  # as if the metadata file had changed since
    with pytest.raises(UnsafeModelError, match="sha256"):
        load_card(card)
