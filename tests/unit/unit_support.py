"""Plain helpers shared by the unit tests (importable by name; fixtures live in conftest.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

BASE_SPEC: dict[str, Any] = {
    "name": "demo",
    "task": "classification",
    "source": {"path": "data.csv"},
    "target": "label",
    "train": {
        "cv": 3,
        "n_jobs": 1,
        "candidates": [{"estimator": "sklearn.linear_model.LogisticRegression", "params": {"C": [0.1, 1.0]}}],
    },
}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def spec_yaml(**overrides: Any) -> str:
    """YAML text of the base spec with `overrides` merged in (nested dicts are merged, not replaced)."""
    return yaml.safe_dump(_merge(BASE_SPEC, overrides), sort_keys=False)


def classification_frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Two numeric features, one categorical, and a yes/no label that depends on them (about 1/3 'yes')."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    label = np.where(x1 + 0.5 * x2 > 0.4, "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": x2, "color": color, "label": label})


def regression_frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(0, 10, size=n)
    y = 3.0 * x1 + 0.5 * x2 + rng.normal(scale=0.1, size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "y": y})
