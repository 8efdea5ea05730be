"""The choices `airfoil init` makes from a column profile, each with the reason it states.

Every function returns plain spec values (what `pipeline.yaml` holds) and the lines that say why;
the same lines are the file's comments and what the terminal shows.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any

from airfoil.errors import DataError
from airfoil.scaffold.columns import FEW_VALUES, Column

MAX_CLASSES_FROM_NUMBERS = 10  # whole-number targets with at most this many values are classes
MIN_CLASS_ROWS = 5  # fewer rows of a class cannot be stratified, then cross-validated 3 ways
MIN_ROWS = 20  # rows with a target value, fewest to train and test on
MOSTLY_UNIQUE = 0.5  # text with more distinct values than this share of rows: names, free text
LARGE = 5_000  # from this many rows: a histogram-based ensemble instead of a random forest
MIN_TIMES = 20  # a date column with fewer distinct values is an attribute, not a time axis to split on
MARGIN = 0.1  # validate min/max: widened by this share of the observed range on each side
_ID_NAME = re.compile(r"(^|[_\W])(id|key|uuid|guid)$|^(id|key)[_\W]|[a-z](Id|ID|Key)$", re.IGNORECASE)

Why = list[str]


def require_column(name: str, columns: list[str], option: str) -> None:
    """A clear error when `name` is not a column, with the closest names there are."""
    if name in columns:
        return
    lowered = {c.lower(): c for c in columns}
    close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise DataError(
        f"{option} {name!r} is not a column of the data; {hint}the columns are {columns}. Change {option}."
    )


def task_of(target: Column, forced: str | None) -> tuple[str, Why]:
    """classification or regression, from --task or from what the target holds."""
    if target.distinct == 0:
        raise DataError(
            f"the target {target.name!r} is empty in all {target.rows} rows read; "
            "choose a column that has values (--target)"
        )
    if target.distinct == 1:
        raise DataError(
            f"the target {target.name!r} holds one value ({(target.values or ('?',))[0]!r}) in every row: "
            "there is nothing to predict; choose another --target, or data with more than one value in it"
        )
    if forced == "regression" and not target.numeric:
        example = target.values[0] if target.values else "text"
        raise DataError(
            f"--task regression needs a numeric target, but {target.name!r} holds text such as "
            f"{example!r}; use --task classification or another --target"
        )
    if forced is not None:
        return forced, [f"task: {forced}, as --task says"]
    if not target.numeric:
        return "classification", [f"task: classification: {target.name!r} holds {target.kind} labels"]
    if target.kind == "integer" and target.distinct <= MAX_CLASSES_FROM_NUMBERS:
        return "classification", [
            f"task: classification: {target.name!r} holds only {target.distinct} distinct whole numbers "
            f"(<= {MAX_CLASSES_FROM_NUMBERS}), taken as classes; use --task regression if they are amounts"
        ]
    return "regression", [
        f"task: regression: {target.name!r} holds numbers ({target.distinct} distinct values, "
        f"{target.low:g} to {target.high:g})"
    ]


def check_classes(target: Column, counts: dict[Any, int]) -> None:
    """Every class must have enough rows to be split, stratified and cross-validated."""
    rare = {c: n for c, n in counts.items() if n < MIN_CLASS_ROWS}
    if rare:
        raise DataError(
            f"class(es) of the target {target.name!r} with fewer than {MIN_CLASS_ROWS} rows: {rare}; "
            "a model cannot learn or be tested on them: remove those rows, merge them into other "
            "classes, or use --task regression if the target is an amount"
        )


def check_rows(target: Column) -> None:
    labelled = target.rows - target.nulls
    if labelled < MIN_ROWS:
        raise DataError(
            f"only {labelled} rows have a value in the target {target.name!r}; at least {MIN_ROWS} are "
            "needed to train and test a model: use more data"
        )


def drop_reason(col: Column) -> str | None:
    """Why a column is not a model input (None: it is one)."""
    present = col.rows - col.nulls
    if col.distinct == 0:
        return f"empty (no value in {col.rows} rows)"
    if col.distinct == 1:
        value = col.values[0] if col.values else None
        return f"constant (every row with a value holds {value!r}): nothing to learn from"
    all_unique = col.distinct == present and col.nulls == 0 and present >= 10
    if all_unique and col.kind == "integer" and (col.in_order or _ID_NAME.search(col.name)):
        order = ", in increasing order" if col.in_order else ""
        return f"id-like (a different whole number in every row{order})"
    if col.kind == "string" and all_unique:
        return "id-like (a different value in every row)"
    if col.kind == "string" and col.distinct > 50 and col.distinct > MOSTLY_UNIQUE * present:
        return (
            f"mostly unique text ({col.distinct} distinct values in {present} rows), "
            "like a name: too many to encode"
        )
    if col.kind == "datetime":
        return "dates, not a model input as they are (a prepare step can derive numbers)"
    return None


def time_column(cols: dict[str, Column], target: str, forced: str | None) -> tuple[str | None, Why]:
    """The column of a time-based split: --time, or the date column with the most distinct values."""
    if forced is not None:
        require_column(forced, list(cols), "--time")
        col = cols[forced]
        if forced == target:
            raise DataError(f"--time {forced!r} is the target; name the column that holds time")
        if col.kind != "datetime" and not col.numeric:
            example = col.values[0] if col.values else "text"
            raise DataError(
                f"--time {forced!r} holds neither dates nor numbers (e.g. {example!r}); "
                "name a column of dates, times or ordered numbers such as a year"
            )
        return forced, [f"split by time on {forced!r} (--time): the latest rows are the test set"]
    dates = [c for c in cols.values() if c.kind == "datetime" and c.name != target]
    if not dates:
        return None, []
    best = max(dates, key=lambda c: c.distinct)
    if best.distinct < MIN_TIMES:
        return None, [
            f"no time split: the date column {best.name!r} has only {best.distinct} distinct values, more "
            f"like an attribute than a time axis (--time {best.name} would split by it)"
        ]
    return best.name, [
        f"split by time on {best.name!r}, a date column with {best.distinct} distinct values: the "
        "latest rows are the test set, as a model is used on data newer than what it learned from "
        "(--time picks another column)"
    ]


def prepare(features: list[Column], drops: list[tuple[str, str]]) -> tuple[dict[str, Any], Why]:
    """drop_columns, impute, encode, scale for these model inputs."""
    out: dict[str, Any] = {}
    why: Why = []
    if drops:
        out["drop_columns"] = [name for name, _ in drops]
        why += [f"drop {name}: {reason}" for name, reason in drops]
    missing = [c for c in features if c.nulls]
    impute: dict[str, str] = {}
    if any(c.numeric for c in missing):
        impute["numeric"] = "median"
    if any(c.categorical for c in missing):
        impute["categorical"] = "most_frequent"
    if impute:
        out["impute"] = impute
        listed = ", ".join(f"{c.name} ({c.null_fraction:.1%})" for c in missing)
        how = {"numeric": "numbers by the median", "categorical": "categories by the most frequent value"}
        why.append(f"impute missing values of {listed}: {', '.join(how[k] for k in impute)}")
    categorical = [c for c in features if c.categorical]
    if categorical:
        widest = max(categorical, key=lambda c: c.distinct)
        if widest.distinct <= FEW_VALUES:
            out["encode"] = "onehot"
            why.append(
                f"encode {len(categorical)} categorical column(s) one-hot: at most {widest.distinct} "
                f"categories each ({widest.name}), under the cap of {FEW_VALUES}"
            )
        else:
            out["encode"] = "ordinal"
            why.append(
                f"encode categorical columns as ordinals: {widest.name} has {widest.distinct} categories, "
                f"more than {FEW_VALUES} one-hot columns should hold (the rarest are grouped)"
            )
    numeric = [c for c in features if c.numeric]
    out["scale"] = "standard" if numeric else "none"
    why.append(
        f"scale {len(numeric)} numeric column(s) to zero mean, unit variance (the linear model needs it)"
        if numeric
        else "no numeric column: nothing to scale"
    )
    return out, why


def rule(col: Column) -> dict[str, Any]:
    """The validate rule of one column: its type, range widened by a margin, values, nullability."""
    out: dict[str, Any] = {"type": col.kind}
    if col.numeric and col.low is not None and col.high is not None:
        out["min"], out["max"] = widen(col.low, col.high, whole=col.kind == "integer")
    if col.kind == "string" and col.values is not None:
        out["allowed"] = list(col.values)
    if not col.nulls:
        out["nullable"] = False
    return out


def widen(low: float, high: float, whole: bool) -> tuple[float, float]:
    """[low, high] widened by MARGIN of the range each side, rounded outward; never below 0 when
    every value was >= 0 (counts, amounts)."""
    margin = (high - low) * MARGIN or abs(high) * MARGIN or 1.0
    step = 10.0 ** math.floor(math.log10(margin))
    lo = math.floor((low - margin) / step) * step
    hi = math.ceil((high + margin) / step) * step
    if low >= 0:
        lo = max(lo, 0.0)
    if whole:
        lo, hi = math.floor(lo), math.ceil(hi)
    return _tidy(lo), _tidy(hi)


def _tidy(x: float) -> float:
    x = round(x, 12)
    return int(x) if float(x).is_integer() else x


def validate(kept: list[Column]) -> tuple[dict[str, Any], Why]:
    """validate.columns for every kept column and max_null_fraction from the most missing one."""
    columns = {c.name: rule(c) for c in kept}
    worst = max(kept, key=lambda c: c.null_fraction)
    limit = min(1.0, math.ceil((worst.null_fraction + 0.05) * 100) / 100)
    why = [
        f"validate: each column's type, observed range widened by {MARGIN:.0%} each side, the values "
        f"of text columns with at most {FEW_VALUES}, and no missing value where none was seen",
        f"max_null_fraction {limit:g}: the most missing in a column is {worst.null_fraction:.1%} "
        f"({worst.name}), plus 5 points",
    ]
    return {"columns": columns, "max_null_fraction": limit}, why
