"""A request's columns against the limits and the model's input schema (`steps.checks`), with the
answer's HTTP status: 413 for too many rows, 400 for anything else, naming the column and the row."""

from __future__ import annotations

from typing import Any

from airfoil.artifacts.features import Features
from airfoil.errors import DataError
from airfoil.registry.loaded import LoadedModel
from airfoil.serving.http import BadInput
from airfoil.steps import checks


def count_rows(values: dict[str, Any], max_rows: int) -> int:
    """The number of rows of columns that must each be a list of one value per row, at most `max_rows`."""
    try:
        return checks.row_count(values, max_rows)
    except DataError as exc:
        raise _bad_input(exc) from None


def check(values: dict[str, Any], model: LoadedModel, max_rows: int, parsed_json: bool = False) -> Features:
    """Exactly the model's columns, equal lengths within limits, values of the right type.

    `parsed_json`: the values come from a parsed JSON body (`checks.check_values`).
    """
    try:
        return checks.check_values(values, model.columns, max_rows, parsed_json=parsed_json)
    except DataError as exc:
        raise _bad_input(exc) from None


def _bad_input(exc: DataError) -> BadInput:
    """The same message, as the HTTP answer: 413 for too many rows, 400 for anything else."""
    return BadInput(str(exc), 413 if isinstance(exc, checks.TooManyRows) else 400)
