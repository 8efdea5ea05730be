"""The API's profiles: every row counted, a bounded sample kept, one stored profile per flush."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from airfoil.monitor.reference import build_reference, write_reference
from airfoil.registry.loaded import LoadedModel
from airfoil.serving.profiles import FLUSH_ROWS, LiveProfiles
from airfoil.settings import load_settings
from airfoil.store import open_store
from airfoil.store.monitoring import stored_profiles
from tests.unit.unit_support import classification_frame


def _model(tmp_path: Path) -> tuple[LoadedModel, str]:
    frame = classification_frame(200).drop(columns=["label"])
    columns = [
        {"name": "x1", "type": "number", "nullable": True},
        {"name": "x2", "type": "number", "nullable": True},
    ]
    reference = build_reference(frame, columns, "classification", np.array(["yes", "no"] * 20))
    uri = str(tmp_path / "reference.json")
    digest = write_reference(uri, reference)
    model = LoadedModel(
        "demo", 3, "classification", columns, ["no", "yes"], "sklearn", {}, reference=(uri, digest)
    )
    return model, digest


def test_every_row_counts_and_a_bounded_sample_is_kept(tmp_path: Path) -> None:
    settings = load_settings({"AIRFOIL_HOME": str(tmp_path / "home")})
    model, digest = _model(tmp_path)
    live = LiveProfiles(settings)
    rng = np.random.default_rng(0)
    for _ in range(3):  # three flushes of 5,000 one-row requests
        for _ in range(5000):
            live.add(model, {"x1": rng.normal(size=1), "x2": rng.normal(size=1)}, ["yes"])
        assert live.flush() == 5000
    rows = stored_profiles(open_store(settings), "demo", digest, None, time.time() + 1, version=3)
    assert [n for _, n, _ in rows] == [5000, 5000, 5000]
    counted = [sum(json.loads(p)["columns"]["x1"]["counts"]) for _, _, p in rows]
    assert counted[0] == 2 * FLUSH_ROWS  # the first window keeps what it can, up to twice the target
    assert all(n <= FLUSH_ROWS for n in counted[1:])  # then one request in k, k from the traffic
    assert live.flush() == 0  # nothing new: nothing stored


def test_models_without_reference_or_with_profiles_off_are_not_counted(tmp_path: Path) -> None:
    model, _ = _model(tmp_path)
    off = LiveProfiles(load_settings({"AIRFOIL_HOME": str(tmp_path / "a"), "AIRFOIL_API_PROFILES": "0"}))
    off.add(model, {"x1": np.ones(1), "x2": np.ones(1)}, ["yes"])
    assert off.flush() == 0
    live = LiveProfiles(load_settings({"AIRFOIL_HOME": str(tmp_path / "b")}))
    old = LoadedModel("demo", 1, "classification", model.columns, ["no", "yes"], "sklearn", {})
    live.add(old, {"x1": np.ones(1), "x2": np.ones(1)}, ["yes"])
    assert live.flush() == 0
