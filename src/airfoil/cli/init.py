"""`airfoil init`: a first pipeline.yaml for a data file (or a SQL query), with what was inferred and why."""

from __future__ import annotations

import shlex
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from airfoil.errors import AirfoilError


class Format(StrEnum):
    csv = "csv"
    parquet = "parquet"
    json = "json"


class Task(StrEnum):
    classification = "classification"
    regression = "regression"


def init_command(  # noqa: PLR0917 - typer maps each parameter to an option
    data: Annotated[
        str,
        typer.Argument(
            help="CSV / Parquet / JSON file, glob or fsspec URL; with --sql, the database's SQLAlchemy URL",
            show_default=False,
        ),
    ],
    target: Annotated[str, typer.Option(help="the column to predict", show_default=False)],
    name: Annotated[
        str | None, typer.Option(help="pipeline name (default: the file's stem, or the query's table)")
    ] = None,
    task: Annotated[Task | None, typer.Option(help="instead of inferring it from the target")] = None,
    time: Annotated[
        str | None, typer.Option(help="column of dates (or ordered numbers) for a time-based split")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="the spec file to write")] = Path(
        "pipeline.yaml"
    ),
    force: Annotated[bool, typer.Option(help="overwrite an existing output file")] = False,
    sql: Annotated[
        str | None, typer.Option(help="read the rows of this query from the database DATA")
    ] = None,
    format: Annotated[
        Format | None, typer.Option(help="the file format, when the extension does not tell")
    ] = None,
) -> None:
    """Write a first pipeline.yaml for your data: task, preparation, validation rules, split,
    candidates and gate inferred from what the data shows, each with the reason why."""
    from rich.console import Console

    from airfoil.scaffold.build import Request, scaffold

    console = Console(highlight=False)
    if output.exists() and not force:
        typer.secho(
            f"error: {output} exists; pass --force to overwrite it, or --output another file",
            fg="red",
            err=True,
        )
        raise typer.Exit(1)
    req = Request(
        data, target, output, name, task.value if task else None, time, sql, format.value if format else None
    )
    try:
        with console.status(f"reading {'the query' if sql else data} ..."):
            made = scaffold(req)
    except AirfoilError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    sample = " (the first rows of a larger source)" if made.sampled else ""
    console.print(
        f"[bold]airfoil init[/] read {made.rows:,} rows × {made.columns} columns of "
        f"[cyan]{'the query' if sql else data}[/]{sample}; pipeline [cyan]{made.spec.name}[/]:",
        soft_wrap=True,
    )
    for _, _, why in made.sections:
        for line in why:
            console.print(f"  - {line}", soft_wrap=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(made.text, encoding="utf-8")
    spec = shlex.quote(str(output))
    console.print(f"\n[green]wrote {output}[/] (it loads as a valid spec). Next:")
    console.print(f"  airfoil validate {spec}   # check it again after you edit it", soft_wrap=True)
    console.print(
        f"  airfoil run {spec}        # train, register, gate and promote through Airflow", soft_wrap=True
    )
