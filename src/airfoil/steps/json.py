"""Step results travel as JSON (XCom): make them so."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any


def json_safe(value: Any) -> Any:
    """numpy scalars become Python numbers, enums their values, tuples lists, NaN/inf None; dict keys
    become strings."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
