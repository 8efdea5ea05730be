"""A request's columns against the limits and the model's input schema (`steps.checks`), with the
answer's HTTP status: 413 for too many rows, 400 for anything else, naming the column and the row."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from airfoil.errors import DataError
from airfoil.registry.loaded import LoadedModel
from airfoil.serving.http import BadInput
from airfoil.steps import checks


def count_rows(values: dict[str, Any], max_rows: int) -> int:
    """The number of rows of columns that must each be a list of one value per row, at most `max_rows`."""
    with _as_bad_input():
        return checks.row_count(values, max_rows)


def check(values: dict[str, Any], model: LoadedModel, max_rows: int) -> dict[str, Any]:
    """Exactly the model's columns, equal lengths within limits, values of the right type."""
    with _as_bad_input():
        return checks.check_values(values, model.columns, max_rows)


@contextlib.contextmanager
def _as_bad_input() -> Iterator[None]:
    """DataError -> BadInput with the same message (413 for too many rows)."""
    try:
        yield
    except checks.TooManyRows as exc:
        raise BadInput(str(exc), 413) from None
    except DataError as exc:
        raise BadInput(str(exc)) from None
