"""The serving unit tests' model: a hand-built schema of two number and two text columns."""

from __future__ import annotations

import pytest

from airfoil.registry.loaded import LoadedModel
from tests.unit.serving.serving_support import toy_model


@pytest.fixture
def served() -> LoadedModel:
    return toy_model()
