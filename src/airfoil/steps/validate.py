"""Validate data against the spec's declared rules; report every failed rule, not just the first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airfoil.artifacts import io
from airfoil.errors import DataValidationError
from airfoil.spec.model import ColumnRule, Validate
from airfoil.steps.context import StepContext

if TYPE_CHECKING:
    import pandas as pd


def check(df: pd.DataFrame, ctx: StepContext) -> list[str]:
    """Return one message per broken rule (empty when the data passes)."""
    return broken_rules(df, ctx.spec.validation)


def broken_rules(df: pd.DataFrame, rules: Validate) -> list[str]:
    """One message per rule of `rules` that `df` breaks (empty when the data passes)."""
    failures: list[str] = []
    if len(df) < rules.min_rows:
        failures.append(f"{len(df)} rows, fewer than validate.min_rows = {rules.min_rows}")
    for col, rule in rules.columns.items():
        if col not in df.columns:
            failures.append(f"column {col!r} is declared in validate.columns but missing from the data")
            continue
        failures.extend(_check_column(df[col], col, rule))
    if rules.max_null_fraction < 1.0:
        for col in df.columns:
            fraction = float(df[col].isna().mean()) if len(df) else 0.0
            if fraction > rules.max_null_fraction:
                failures.append(
                    f"column {col!r}: {fraction:.1%} missing values, more than "
                    f"validate.max_null_fraction = {rules.max_null_fraction:.1%}"
                )
    return failures


def _check_column(s: pd.Series, col: str, rule: ColumnRule) -> list[str]:
    import pandas as pd

    out = []
    values = s.dropna()
    nulls = int(s.isna().sum())
    if not rule.nullable and nulls:
        out.append(f"column {col!r}: {nulls} missing value(s) but nullable is false")
    if rule.type is not None:
        problem = _type_problem(values, rule.type)
        if problem:
            out.append(f"column {col!r}: expected {rule.type}, {problem}")
            return out  # range checks on the wrong type only add noise
    if (rule.min is not None or rule.max is not None) and len(values):
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.isna().any():
            out.append(
                f"column {col!r}: min/max declared but {int(numeric.isna().sum())} value(s) are not numbers"
            )
        if rule.min is not None and (numeric < rule.min).any():
            n = int((numeric < rule.min).sum())
            out.append(f"column {col!r}: {n} value(s) below min {rule.min:g} (lowest {numeric.min():g})")
        if rule.max is not None and (numeric > rule.max).any():
            n = int((numeric > rule.max).sum())
            out.append(f"column {col!r}: {n} value(s) above max {rule.max:g} (highest {numeric.max():g})")
    if rule.allowed is not None and len(values):
        bad = values[~values.isin(rule.allowed)]
        if len(bad):
            examples = sorted({str(v) for v in bad.unique()[:5]})
            out.append(f"column {col!r}: {len(bad)} value(s) not in allowed {rule.allowed}, e.g. {examples}")
    return out


def _type_problem(values: pd.Series, kind: str) -> str | None:
    import pandas as pd

    api = pd.api.types
    if kind in ("number", "integer"):
        numeric = values if api.is_numeric_dtype(values) else pd.to_numeric(values, errors="coerce")
        bad = int(numeric.isna().sum())
        if bad:
            return f"{bad} value(s) are not numbers, e.g. {values[numeric.isna()].iloc[0]!r}"
        if kind == "integer" and not api.is_integer_dtype(numeric) and ((numeric % 1) != 0).any():
            return "some values have a fractional part"
    elif kind == "string" and not (api.is_string_dtype(values) or api.is_object_dtype(values)):
        return f"the column holds {values.dtype}"
    elif kind == "boolean" and not (api.is_bool_dtype(values) or values.isin([True, False, 0, 1]).all()):
        return "some values are not true/false"
    elif kind == "datetime" and not api.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, errors="coerce")
        if parsed.isna().any():
            return (
                f"{int(parsed.isna().sum())} value(s) are not dates, e.g. {values[parsed.isna()].iloc[0]!r}"
            )
    return None


def validate(ctx: StepContext, extracted: dict[str, Any]) -> dict[str, Any]:
    """Check the extracted data; write the report; raise with every failure so training never starts."""
    df = io.read_parquet(extracted)
    failures = check(df, ctx)
    report = {"rows": len(df), "passed": not failures, "failures": failures}
    uri = ctx.uri("validation_report.json")
    io.write_json(uri, report)
    if failures:
        raise DataValidationError(ctx.spec.name, failures, uri)
    return {"passed": True, "rows": len(df), "report_uri": uri}
