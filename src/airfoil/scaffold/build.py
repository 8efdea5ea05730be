"""`airfoil init`: a first `pipeline.yaml` inferred from a data sample, checked before it is written."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airfoil.errors import AirfoilError, DataError, SpecError
from airfoil.scaffold import infer, training
from airfoil.scaffold.columns import profile
from airfoil.scaffold.render import Section, render
from airfoil.spec.model import PIPELINE_NAME, FileSource, PipelineSpec, SqlSource

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_ROWS = 100_000  # rows read from a larger source: the first ones


@dataclass(frozen=True)
class Request:
    """What the user asked for: the data (a path, glob, URL, or a database URL with `sql`) and options."""

    data: str
    target: str
    output: Path
    name: str | None = None
    task: str | None = None
    time: str | None = None
    sql: str | None = None
    format: str | None = None


@dataclass(frozen=True)
class Scaffold:
    """The written spec's text, the spec it loads as, and what was read to infer it."""

    text: str
    spec: PipelineSpec
    sections: list[Section]
    rows: int
    columns: int
    sampled: bool


def scaffold(req: Request) -> Scaffold:
    """Read a sample of the data, infer every section, and return the text once it loads and its
    rules accept the sample. Bad input raises `DataError`; a spec that does not load is a bug."""
    source: FileSource | SqlSource = (
        SqlSource(sql=req.sql, conn=req.data) if req.sql else FileSource(path=req.data, format=req.format)  # type: ignore[arg-type]
    )
    df = _read(source)
    cols = profile(df)
    infer.require_column(req.target, list(cols), "--target")
    target = cols[req.target]
    task, task_why = infer.task_of(target, req.task)
    infer.check_rows(target)
    counts = None
    if task == "classification":
        counts = {_scalar(k): int(v) for k, v in df[req.target].value_counts().items()}
        infer.check_classes(target, counts)
    time, time_why = infer.time_column(cols, req.target, req.time)
    drops = [
        (c.name, r) for c in cols.values() if c.name not in (req.target, time) and (r := infer.drop_reason(c))
    ]
    dropped = {name for name, _ in drops}
    kept = [c for c in cols.values() if c.name not in dropped]
    features = [c for c in kept if c.name not in (req.target, time)]
    if not features:
        listed = "; ".join(f"{n}: {r}" for n, r in drops)
        raise DataError(
            f"no column is left to learn from: besides the target {req.target!r}"
            f"{f' and the time {time!r}' if time else ''}, every column is dropped ({listed})"
        )
    prepare, prepare_why = infer.prepare(features, drops)
    validate, validate_why = infer.validate(kept)
    split, split_why = training.split(task, time)
    train, train_why = training.train(task, target.rows - target.nulls, counts)
    sections: list[Section] = [
        ("name", _name(req), []),
        ("source", _source(source, req.output), []),
        ("target", req.target, []),
        ("task", task, task_why),
        ("prepare", prepare, prepare_why),
        ("validate", validate, validate_why),
        ("split", split, time_why + split_why),
        ("train", train, train_why),
    ]
    draft = PipelineSpec.model_validate({k: v for k, v, _ in sections})
    gate, gate_why = training.gate(draft, df.drop(columns=list(dropped)))
    sections.append(("gate", gate, gate_why))
    text = render(_header(req, df, source), sections)
    spec = _check(text, req.output, df.drop(columns=list(dropped)))
    return Scaffold(text, spec, sections, len(df), len(df.columns), df.attrs.get("sampled", False))


def _scalar(value: Any) -> Any:
    """A numpy scalar as the Python value (YAML writes those); 1.0 stays a float."""
    return value.item() if hasattr(value, "item") else value


def _read(source: FileSource | SqlSource) -> pd.DataFrame:
    from airfoil.steps.source import read_sample

    df, sampled = read_sample(source, SAMPLE_ROWS, "--format")
    if df.empty:
        where = "the query" if isinstance(source, SqlSource) else repr(source.path)
        raise DataError(f"{where} gave no rows (or no columns); point airfoil init at data with rows")
    df.attrs["sampled"] = sampled
    return df


def _name(req: Request) -> str:
    if req.name is not None:
        if not PIPELINE_NAME.match(req.name):
            raise DataError(
                f"--name {req.name!r}: use letters, digits and underscores, starting with a letter"
            )
        return req.name
    if req.sql:
        found = re.search(r"\bfrom\s+[\"'`\[]?([A-Za-z_][\w.]*)", req.sql, re.IGNORECASE)
        stem = found.group(1).rsplit(".", 1)[-1] if found else "pipeline"
    else:
        stem = Path(req.data.rstrip("/")).name.split(".")[0]
    name = re.sub(r"\W+", "_", stem).strip("_")
    return name if PIPELINE_NAME.match(name) else f"pipeline_{name}".rstrip("_")


def _source(source: FileSource | SqlSource, output: Path) -> dict[str, Any]:
    if isinstance(source, SqlSource):
        return {"sql": source.sql, "conn": source.conn}
    path = source.path
    if "://" not in path:
        path = os.path.relpath(Path(path).expanduser().resolve(), output.resolve().parent)
    return {"path": path, **({"format": source.format} if source.format else {})}


def _header(req: Request, df: pd.DataFrame, source: FileSource | SqlSource) -> list[str]:
    what = "a SQL query" if isinstance(source, SqlSource) else req.data
    sample = f"the first {len(df):,} rows" if df.attrs.get("sampled") else f"{len(df):,} rows"
    return [
        f"Written by `airfoil init` on {date.today().isoformat()} from {what} ({sample}, "
        f"{len(df.columns)} columns). Each choice says why; change any of them.",
        "The fields: docs/spec.md. What init infers and how: docs/init.md.",
    ]


def _check(text: str, output: Path, data: pd.DataFrame) -> PipelineSpec:
    """Load the text as `airfoil validate` will and apply its rules to the data they came from."""
    from airfoil.spec.loader import check_imports, parse_spec
    from airfoil.steps.validate import broken_rules

    try:
        spec = parse_spec(text, str(output), base_dir=output.resolve().parent)
        check_imports(spec, str(output))
    except SpecError as exc:
        raise RuntimeError(
            f"airfoil init inferred a spec that does not load (a bug):\n{exc}\n{text}"
        ) from exc
    broken = broken_rules(data, spec.validation)
    if broken:
        raise RuntimeError(f"airfoil init inferred rules its own data breaks (a bug): {broken}\n{text}")
    return spec


__all__ = ["AirfoilError", "Request", "Scaffold", "scaffold"]
