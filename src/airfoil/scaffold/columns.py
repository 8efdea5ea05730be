"""What each column of a data sample holds: its kind, missing values, distinct values, range.

Kinds are the `validate` rule types, decided the way `steps.validate` checks them, so a rule
written from a profile accepts the data it was profiled on.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["number", "integer", "string", "boolean", "datetime"]
FEW_VALUES = 20  # at most this many distinct values: listed (validate `allowed`, classes)
_DATE_LIKE = re.compile(r"\d[-/:.T ]\d|\d{4}[-/]\d|[-/]\d{2}")


@dataclass(frozen=True)
class Column:
    """One column of the sample, as far as a pipeline spec cares."""

    name: str
    kind: Kind
    rows: int
    nulls: int
    distinct: int
    values: tuple[Any, ...] | None  # the distinct values, sorted, when there are few
    low: float | None  # numeric range
    high: float | None
    in_order: bool  # non-decreasing in row order (ids, timestamps)

    @property
    def null_fraction(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0

    @property
    def numeric(self) -> bool:
        return self.kind in ("number", "integer")

    @property
    def categorical(self) -> bool:
        """What the model's pipeline encodes: everything that is neither numeric nor a date."""
        return self.kind in ("string", "boolean")


def profile(df: pd.DataFrame) -> dict[str, Column]:
    """A `Column` for each column of `df`, in order."""
    return {str(name): _column(str(name), df[name]) for name in df.columns}


def _column(name: str, s: pd.Series) -> Column:
    import pandas as pd

    api = pd.api.types
    values = s.dropna()
    kind = kind_of(values)
    low = high = None
    if kind in ("number", "integer") and len(values):
        numeric = pd.to_numeric(values)
        low, high = float(numeric.min()), float(numeric.max())
    if kind == "boolean" or api.is_bool_dtype(values):
        values = values.astype(bool)
    distinct = int(values.nunique())
    listed = None
    if distinct <= FEW_VALUES:
        listed = tuple(sorted((plain(v) for v in values.unique()), key=str))
    order = values if kind != "datetime" else _dates(values)
    try:
        in_order = bool(len(order) > 1 and order.is_monotonic_increasing)
    except TypeError:  # mixed types
        in_order = False
    return Column(name, kind, len(s), int(s.isna().sum()), distinct, listed, low, high, in_order)


def kind_of(values: pd.Series) -> Kind:
    """The rule type of a column's non-missing values."""
    import pandas as pd

    api = pd.api.types
    if api.is_bool_dtype(values):
        return "boolean"
    if api.is_datetime64_any_dtype(values):
        return "datetime"
    if api.is_numeric_dtype(values):
        whole = api.is_integer_dtype(values) or bool(len(values) and ((values % 1) == 0).all())
        return "integer" if whole else "number"
    if len(values) and date_like(values):
        return "datetime"
    return "string"


def date_like(values: pd.Series) -> bool:
    """True when every value is text that parses as a date or time (as `validate` parses them)."""
    strings = values.astype(str)
    if not strings.str.contains(_DATE_LIKE).all():
        return False
    return not _dates(values).isna().any()


def _dates(values: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": parsed value by value, as validate does
        return pd.to_datetime(values, errors="coerce")


def plain(value: Any) -> Any:
    """A numpy or pandas scalar as the Python value YAML writes (numbers, strings, booleans)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)
