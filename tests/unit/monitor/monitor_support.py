"""A reference of known distributions, and windows drawn from it (or shifted), for the monitor's tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from airfoil.monitor.profile import Profile
from airfoil.monitor.reference import Reference, build_reference

FEATURES = 10
CITIES = ["oslo", "rome", "lima"]
CITY_SHARES = [0.5, 0.3, 0.2]


def reference(rows: int = 5000, seed: int = 0) -> Reference:
    """`x0..x9` standard normal, `city` in three categories, predictions "yes"/"no"."""
    rng = np.random.default_rng(seed)
    train = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(FEATURES)})
    train["city"] = rng.choice(CITIES, size=rows, p=CITY_SHARES)
    columns = [{"name": f"x{i}", "type": "number"} for i in range(FEATURES)]
    columns.append({"name": "city", "type": "string"})
    return build_reference(train, columns, "classification", rng.choice(["yes", "no"], size=rows // 4))


def window_values(
    rows: int, rng: np.random.Generator, shift: float = 0.0, city_shares: list[float] | None = None
) -> tuple[dict[str, Any], np.ndarray]:
    """Columns of one scored window (x3 shifted by `shift` standard deviations) and its predictions."""
    values: dict[str, Any] = {
        f"x{i}": rng.normal(size=rows) + (shift if i == 3 else 0.0) for i in range(FEATURES)
    }
    values["city"] = rng.choice(CITIES, size=rows, p=city_shares or CITY_SHARES).astype(object)
    return values, rng.choice(["yes", "no"], size=rows).astype(object)


def window(
    ref: Reference, rows: int, seed: int, shift: float = 0.0, city_shares: list[float] | None = None
) -> Profile:
    values, predictions = window_values(rows, np.random.default_rng(seed), shift, city_shares)
    return ref.profile_chunk(values, predictions)
