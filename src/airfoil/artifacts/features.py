"""A request's rows of a model's input columns, held the way a model takes them: the number columns
as one float64 matrix [n, k] (one C call to feed, one view per column), the text columns as lists.

It reads like {column: values} in the model's column order (a number column is a float64 view of
its matrix column, a text column its list), so whatever took plain columns takes it unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np


class Features(Mapping[str, Any]):
    """Checked rows: `numbers` [n, len(number columns)] float64, `text` {column: list of str | None}."""

    __slots__ = ("_where", "names", "numbers", "text")

    def __init__(self, names: Sequence[str], where: dict[str, int], numbers: Any, text: dict[str, list]):
        self.names = names  # every column, in the model's order
        self.numbers = numbers
        self.text = text
        self._where = where  # number column -> its column of `numbers` (built once per model)

    @staticmethod
    def index(number_names: Sequence[str]) -> dict[str, int]:
        """The `where` of a model's number columns."""
        return {name: j for j, name in enumerate(number_names)}

    @classmethod
    def from_columns(cls, values: Mapping[str, Any], columns: Sequence[tuple[str, str]]) -> Features:
        """From {column: values} and the model's (name, kind) pairs: number columns stacked as
        float64 (None becomes NaN), text columns as lists."""
        if isinstance(values, Features):
            return values
        number_names = [name for name, kind in columns if kind == "number"]
        n = len(values[columns[0][0]]) if columns else 0
        numbers = np.empty((n, len(number_names)), dtype=np.float64)
        for j, name in enumerate(number_names):
            numbers[:, j] = np.asarray(values[name], dtype=np.float64).reshape(-1)
        text = {name: list(values[name]) for name, kind in columns if kind != "number"}
        return cls([name for name, _ in columns], cls.index(number_names), numbers, text)

    @classmethod
    def concat(cls, parts: Sequence[Features]) -> Features:
        """The rows of several `Features` of one model, one after the other."""
        first = parts[0]
        numbers = np.concatenate([p.numbers for p in parts])
        text = {name: list(itertools.chain.from_iterable(p.text[name] for p in parts)) for name in first.text}
        return cls(first.names, first._where, numbers, text)

    @property
    def rows(self) -> int:
        return int(self.numbers.shape[0])  # [n, 0] when the model has no number column

    def __getitem__(self, name: str) -> Any:
        j = self._where.get(name)
        if j is not None:
            return self.numbers[:, j]
        return self.text[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._where or name in self.text
