"""Prepare steps: extract (read + row-level cleaning) and split into train/test sets."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from airfoil.artifacts import io
from airfoil.errors import DataError
from airfoil.spec.loader import import_callable
from airfoil.steps.context import StepContext
from airfoil.steps.source import read_source

if TYPE_CHECKING:
    import pandas as pd

    from airfoil.spec.model import PipelineSpec


def clean(df: pd.DataFrame, ctx: StepContext) -> pd.DataFrame:
    """Row-level cleaning that needs no fitting: drop columns, duplicates, custom steps."""
    import pandas as pd

    prep = ctx.spec.prepare
    missing = [c for c in prep.drop_columns if c not in df.columns]
    if missing:
        raise DataError(
            f"prepare.drop_columns names {missing}, not in the data; columns are {list(df.columns)}"
        )
    df = df.drop(columns=prep.drop_columns)
    if prep.drop_duplicates:
        df = df.drop_duplicates(ignore_index=True)
    for step in prep.steps:
        try:
            fn = import_callable(ctx.spec, step)
        except (ImportError, AttributeError) as exc:
            raise DataError(f"prepare.steps: cannot import {step!r}: {exc}") from exc
        out = fn(df)
        if not isinstance(out, pd.DataFrame):
            raise DataError(
                f"prepare.steps: {step!r} returned {type(out).__name__}; it must return a DataFrame"
            )
        df = out.reset_index(drop=True)
    return df


def extract(ctx: StepContext) -> dict[str, Any]:
    """Read the source, check the target is there, clean rows, write `extracted.parquet`."""
    spec = ctx.spec
    df = read_source(spec.source)
    if spec.target not in df.columns:
        raise DataError(
            f"the target column {spec.target!r} is not in the data; columns are {list(df.columns)}. "
            "Fix `target` in the spec or the source."
        )
    rows_in = len(df)
    df = clean(df, ctx)
    if df.empty:
        raise DataError(
            f"the source {_describe(spec.source)} gave no rows after cleaning; nothing to train on"
        )
    ref = io.write_parquet(df, ctx.uri("extracted.parquet"))
    return {**ref, "rows_in": rows_in, "columns": [str(c) for c in df.columns]}


def _describe(source: Any) -> str:
    return getattr(source, "path", None) or "(sql query)"


def split(
    ctx: StepContext, extracted: dict[str, Any], report: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Split into train/test Parquet; publish them as the pipeline's latest dataset."""
    spec, cfg = ctx.spec, ctx.spec.split
    df = io.read_parquet(extracted)
    missing_target = int(df[spec.target].isna().sum())
    df = df[df[spec.target].notna()].reset_index(drop=True)
    if len(df) < 4:
        raise DataError(f"only {len(df)} rows have a target value; at least 4 are needed to split and train")
    train, test = split_frame(df, spec)
    if train.empty or test.empty:
        raise DataError(
            f"the split left the {'train' if train.empty else 'test'} set empty; "
            "adjust split.test_size or split.test_after"
        )
    train_ref = io.write_parquet(train, ctx.uri("train.parquet"))
    test_ref = io.write_parquet(test, ctx.uri("test.parquet"))
    params = cfg.model_dump_json()
    digest = hashlib.sha256(f"{train_ref['fingerprint']}|{test_ref['fingerprint']}|{params}".encode())
    dataset = {
        "pipeline": spec.name,
        "fingerprint": digest.hexdigest(),
        "train": train_ref,
        "test": test_ref,
        "rows_without_target": missing_target,
        "prepared_by": {"dag_id": ctx.run.dag_id, "run_id": ctx.run.run_id},
    }
    io.write_json(ctx.pipeline_uri("dataset", "latest.json"), dataset)
    return dataset


def split_frame(df: pd.DataFrame, spec: PipelineSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test rows as `spec.split` says (time-based, stratified or random); also what
    `airfoil init` uses to measure its baseline on the same test rows the pipeline will use."""
    import pandas as pd

    cfg, target = spec.split, spec.target
    if cfg.by is not None:
        if cfg.by not in df.columns:
            raise DataError(f"split.by names {cfg.by!r}, not in the data; columns are {list(df.columns)}")
        order = df[cfg.by]
        if not (pd.api.types.is_numeric_dtype(order) or pd.api.types.is_datetime64_any_dtype(order)):
            order = pd.to_datetime(order, errors="coerce")
            if order.isna().all():
                raise DataError(f"split.by: column {cfg.by!r} holds neither numbers nor dates")
        if cfg.test_after is not None:
            cutoff: Any
            if pd.api.types.is_datetime64_any_dtype(order):
                cutoff = pd.Timestamp(cfg.test_after)
            else:
                try:
                    cutoff = float(str(cfg.test_after))
                except ValueError:
                    raise DataError(
                        f"split.test_after {cfg.test_after!r} is not a number, "
                        f"but column {cfg.by!r} holds numbers"
                    ) from None
            is_test = order > cutoff
        else:
            rank = order.rank(method="first")
            is_test = rank > len(df) * (1 - cfg.test_size)
        return df[~is_test].reset_index(drop=True), df[is_test].reset_index(drop=True)

    from sklearn.model_selection import train_test_split

    stratify = df[target] if cfg.stratify else None
    if stratify is not None:
        counts = stratify.value_counts()
        rare = counts[counts < 2]
        if len(rare):
            raise DataError(
                f"split.stratify: class(es) {list(rare.index)} have fewer than 2 rows; "
                "remove stratify or get more data for them"
            )
    train, test = train_test_split(df, test_size=cfg.test_size, random_state=cfg.seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)
