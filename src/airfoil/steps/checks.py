"""Check input against a model's input schema ({name, type, nullable} per column) and the spec's
column rules. Two front-ends over one schema:

- `check_rows`, for chunks of a file or a transient request (Arrow): every row is checked, a row
  that does not fit is rejected with its reason, the others are scored. A chunk of 100k rows costs
  no Python per row unless rows are rejected (then only those are looked at, to name the value).
- `check_values`, for a prediction request (JSON columns): the first problem refuses the request,
  naming the column and the row. JSON has no column types, so it is strict: a number column takes
  numbers only (no text, no booleans), a text column text only.

Both start from the same rules: `missing_columns` and `row_count`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from airfoil.artifacts.arrow_start import call, cast
from airfoil.artifacts.features import Features
from airfoil.errors import DataError

if TYPE_CHECKING:
    from typing import TypeAlias

    import pyarrow as pa

    from airfoil.spec.model import ColumnRule

    Rule: TypeAlias = ColumnRule | "Bounds"


@dataclass(frozen=True)
class Bounds:
    """What `check_rows` reads of a column rule: the spec's `ColumnRule`, or these fields handed as JSON
    to a process that does not load the spec (the batch `score` task, `steps.batch.scoring_fields`)."""

    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None


@dataclass
class Checked:
    """A checked chunk: the good rows' values per column, which rows are good, why the others are not."""

    values: dict[str, Any]  # column -> float64 or object array, good rows only
    ok: np.ndarray  # bool [n]
    reasons: np.ndarray  # object [n]: None for good rows, else the first problem found

    @property
    def rejected(self) -> int:
        return int((~self.ok).sum())


class TooManyRows(DataError):
    """More rows than a limit allows (the API answers 413)."""


def missing_columns(available: Iterable[str], columns: list[dict[str, Any]]) -> list[str]:
    """The model's columns that `available` lacks, in the model's order."""
    have = set(available)
    return [c["name"] for c in columns if c["name"] not in have]


def row_count(values: dict[str, Any], max_rows: int | None = None) -> int:
    """The rows of {column: [values]}: every column a list, all of one length, at least one row."""
    lengths = {len(v) if isinstance(v, list) else -1 for v in values.values()}
    if -1 in lengths:
        raise DataError("every column must be a list of values")
    if len(lengths) > 1:
        raise DataError(
            f"columns have different lengths {sorted(lengths)}; every column needs one value per row"
        )
    n = lengths.pop() if lengths else 0
    if n == 0:
        raise DataError("the batch is empty (no rows): send at least one row")
    if max_rows is not None and n > max_rows:
        raise TooManyRows(f"{n} rows is more than the limit of {max_rows} per request; split the batch")
    return n


def check_rows(
    table: pa.Table | pa.RecordBatch,
    columns: list[dict[str, Any]],
    rules: Mapping[str, Rule] | None = None,
) -> Checked:
    """Check every row against the model's columns ({name, type, nullable}) and the spec's column rules.

    A missing column is the input's fault, not a row's: it raises `DataError`. Values that cannot
    be used (text in a number column, a null where none is allowed, infinities, values outside the
    spec's min/max/allowed) reject their row with a reason.
    """
    missing = missing_columns(list(table.schema.names), columns)
    if missing:
        raise DataError(
            f"the input has no column(s) {missing}; the model takes {[c['name'] for c in columns]}"
        )
    n = table.num_rows
    reasons = _Reasons(n)
    raw: dict[str, Any] = {}
    for col in columns:
        name = col["name"]
        rule = (rules or {}).get(name)
        arr = table.column(name)
        if col["type"] == "number":
            raw[name] = _numbers(name, arr, bool(col.get("nullable", True)), rule, reasons)
        else:
            raw[name] = _strings(name, arr, bool(col.get("nullable", True)), rule, reasons)
    ok = ~reasons.bad
    if not reasons.bad.any():
        return Checked(raw, ok, reasons.text)
    return Checked({k: v[ok] for k, v in raw.items()}, ok, reasons.text)


class _Reasons:
    """The first problem of each row (`text`) and which rows have one (`bad`)."""

    def __init__(self, n: int):
        self.text = np.full(n, None, dtype=object)
        self.bad = np.zeros(n, dtype=bool)

    def reject(self, i: int, message: str) -> None:
        if not self.bad[i]:
            self.bad[i] = True
            self.text[i] = message


def _reject(reasons: _Reasons, mask: np.ndarray, message: Any) -> None:
    """Give rows in `mask` that have no reason yet `message(i)` (a callable on the row) or the text."""
    for i in np.flatnonzero(mask & ~reasons.bad):
        reasons.reject(int(i), message(i) if callable(message) else message)


def _numbers(name: str, arr: Any, nullable: bool, rule: Rule | None, reasons: _Reasons) -> np.ndarray:
    import pyarrow as pa

    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        try:
            arr = cast(arr, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # some values are not numbers
            text = arr.to_numpy(zero_copy_only=False)
            values = np.full(len(text), np.nan)
            for i, v in enumerate(text):
                if v is None or v == "":
                    continue
                try:
                    values[i] = float(v)
                except ValueError:
                    reasons.reject(i, f"{name}: {v!r} is not a number")
            return _number_rules(name, values, nullable, rule, reasons)
    elif not (
        pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_boolean(arr.type)
    ):
        if pa.types.is_null(arr.type):
            values = np.full(len(arr), np.nan)
            return _number_rules(name, values, nullable, rule, reasons)
        raise DataError(f"column {name!r} holds {arr.type}, but the model takes numbers")
    values = cast(arr, pa.float64()).to_numpy(zero_copy_only=False)  # nulls become NaN
    return _number_rules(name, values, nullable, rule, reasons)


def _number_rules(
    name: str, values: np.ndarray, nullable: bool, rule: Rule | None, reasons: _Reasons
) -> np.ndarray:
    if np.isfinite(values).all() and (rule is None or (rule.min is None and rule.max is None)):
        return values  # the usual case: one check
    nan = np.isnan(values)
    if not nullable and nan.any():
        _reject(reasons, nan, f"{name}: missing value, and the model's column allows none")
    inf = np.isinf(values)
    if inf.any():
        _reject(reasons, inf, f"{name}: infinite value")
    if rule is not None and rule.min is not None:
        _reject(
            reasons, values < rule.min, lambda i: f"{name}: {values[i]:g} is below the minimum {rule.min:g}"
        )
    if rule is not None and rule.max is not None:
        _reject(
            reasons, values > rule.max, lambda i: f"{name}: {values[i]:g} is above the maximum {rule.max:g}"
        )
    return values


def _strings(name: str, arr: Any, nullable: bool, rule: Rule | None, reasons: _Reasons) -> np.ndarray:
    import pyarrow as pa

    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = cast(arr, pa.string())  # category codes stored as numbers, booleans: their text
    values = arr.to_numpy(zero_copy_only=False)
    if arr.null_count and not nullable:
        _reject(
            reasons,
            call("is_null", arr).to_numpy(zero_copy_only=False),
            f"{name}: missing value, and the model's column allows none",
        )
    if rule is not None and rule.allowed is not None:
        import pyarrow.compute as pc

        allowed = pa.array([str(a) for a in rule.allowed], pa.string())
        bad = pc.and_(pc.is_valid(arr), pc.invert(pc.is_in(arr, value_set=allowed)))
        _reject(
            reasons,
            bad.to_numpy(zero_copy_only=False),
            lambda i: f"{name}: {values[i]!r} is not one of the allowed values {rule.allowed}",
        )
    return values


# --- JSON request values --------------------------------------------------------------------------------
def check_values(
    values: dict[str, Any], columns: list[dict[str, Any]], max_rows: int, *, parsed_json: bool = False
) -> Features:
    """Exactly the model's columns, equal lengths within `max_rows`, values of the right type; the
    number columns as one float64 matrix.

    `parsed_json`: the values come from parsed JSON, which holds no NaN or infinity (the parser
    refuses them): plain numbers need no look for them.
    """
    names = [c["name"] for c in columns]
    missing = [n for n in names if n not in values]
    if missing:
        raise DataError(f"missing column(s) {missing}; the model takes {names}")
    known = set(names)
    extra = [c for c in values if c not in known]
    if extra:
        raise DataError(f"unknown column(s) {extra}; the model takes {names}")
    n = row_count(values, max_rows)
    number_names = [c["name"] for c in columns if c["type"] == "number"]
    matrix = number_matrix([values[name] for name in number_names], n, parsed_json)
    if matrix is None:  # something to name, or nulls to turn into NaN: column by column, in order
        out = {
            col["name"]: _json_numbers(col["name"], values[col["name"]], col["nullable"])
            if col["type"] == "number"
            else _json_strings(col["name"], values[col["name"]], col)
            for col in columns
        }
        return Features.from_columns(out, [(c["name"], c["type"]) for c in columns])
    text = {
        c["name"]: _json_strings(c["name"], values[c["name"]], c) for c in columns if c["type"] != "number"
    }
    return Features(names, Features.index(number_names), matrix, text)


def number_matrix(columns: list[list[Any]], n: int, parsed_json: bool = False) -> np.ndarray | None:
    """Columns of `n` plain finite numbers each (ints or floats, no booleans) as one float64 matrix
    [n, len(columns)]; None if any value is something else (the caller then names it)."""
    if not columns:
        return np.empty((n, 0), dtype=np.float64)
    matrix = _plain_numbers(columns, parsed_json)
    return None if matrix is None else np.ascontiguousarray(matrix.T)


def number_rows(rows: list[Any], width: int, parsed_json: bool = False) -> np.ndarray | None:
    """Rows of `width` plain finite numbers each as one float64 matrix [n, width]; None if any row or
    value is something else (the caller then names it). `parsed_json`: as in `check_values`."""
    matrix = _plain_numbers(rows, parsed_json)
    return None if matrix is None or matrix.shape[1] != width else matrix


def _plain_numbers(lists: list[Any], parsed_json: bool) -> np.ndarray | None:
    """Equal-length lists of ints and floats as a C-ordered float64 matrix, in one C call; None if
    any value is something else or not finite."""
    try:
        matrix = np.array(lists)
    except ValueError:  # ragged
        return None
    # numpy makes text, None or nested lists something else than numbers, but takes booleans as 0/1
    if matrix.dtype.kind not in "fiu" or matrix.ndim != 2 or not matrix.size or _booleans(lists, matrix):
        return None
    if matrix.dtype.kind != "f":
        matrix = matrix.astype(np.float64)
    return matrix if parsed_json or np.isfinite(matrix).all() else None


def _booleans(lists: list[Any], matrix: np.ndarray) -> bool:
    """Whether a value of `lists` is a boolean (`matrix`: the same values as numbers, 0 or 1 for one)."""
    if matrix.size > 256:  # look only where a boolean could be, if that is a few places
        maybe = np.flatnonzero((matrix == 0) | (matrix == 1)).tolist()
        if len(maybe) * 8 < matrix.size:
            width = matrix.shape[1]
            return any(type(lists[i // width][i % width]) is bool for i in maybe)
    return bool in set(map(type, itertools.chain.from_iterable(lists)))


def _json_numbers(name: str, raw: list[Any], nullable: bool) -> Any:
    try:
        arr = np.asarray(raw)
    except ValueError:  # ragged nested lists
        arr = np.asarray(raw, dtype=object)
    # text, booleans, nulls, nested lists: look closer (numpy turns [True, 2.5] into [1.0, 2.5])
    if arr.dtype.kind not in "fiu" or arr.ndim != 1 or bool in set(map(type, raw)):
        bad = next(
            (v for v in raw if v is not None and (isinstance(v, bool) or not isinstance(v, int | float))),
            None,
        )
        if bad is not None:
            raise DataError(f"column {name!r}: expected a number, got {bad!r}")
        arr = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
    arr = arr.astype(np.float64, copy=False)
    if np.isfinite(arr).all():  # the usual case: one check, not two
        return arr
    if not nullable and np.isnan(arr).any():
        raise DataError(
            f"column {name!r}: missing value (null/NaN) in row {int(np.isnan(arr).argmax())}, "
            "but this column does not allow them"
        )
    if np.isinf(arr).any():
        raise DataError(f"column {name!r}: infinite value in row {int(np.isinf(arr).argmax())}")
    return arr


def _json_strings(name: str, raw: list[Any], col: dict[str, Any]) -> list[Any]:
    for i, v in enumerate(raw):
        if v is None:
            if not col["nullable"]:
                raise DataError(
                    f"column {name!r}: missing value in row {i}, but this column does not allow them"
                )
        elif not isinstance(v, str):
            raise DataError(f"column {name!r}: expected text, got {v!r} in row {i}")
    return raw
