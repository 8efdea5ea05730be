"""`airfoil` commands. Every command imports what it needs when it runs, so `--help` is instant."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from airfoil.cli import up as stack_cli
from airfoil.cli.init import init_command
from airfoil.errors import AirfoilError

app = typer.Typer(
    help="Machine learning pipelines as real Apache Airflow 3 DAGs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(
    help="Model versions in the registry: list, promote, roll back.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

Spec = Annotated[Path, typer.Argument(help="pipeline.yaml", show_default=False)]


class Only(StrEnum):
    """The DAGs `airfoil run` can run on their own (a transient DAG runs per request, never here)."""

    prepare = "prepare"
    train = "train"
    batch_predict = "batch_predict"
    monitor = "monitor"


def _fail(exc: AirfoilError) -> typer.Exit:
    typer.secho(f"error: {exc}", fg="red", err=True)
    return typer.Exit(1)


@app.command()
def validate(spec: Spec) -> None:
    """Check a pipeline spec without running it: structure, estimators, custom steps, source files."""
    from airfoil.cli.run import check_spec
    from airfoil.plan import build_plans

    try:
        loaded = check_spec(spec)
    except AirfoilError as exc:
        raise _fail(exc) from None
    n = len(loaded.train.candidates)
    dags = [p.dag_id for p in build_plans(loaded, str(spec))]
    typer.secho(
        f"ok: {spec} — pipeline {loaded.name!r} ({loaded.task}), {n} candidate(s), "
        f"DAGs {', '.join(dags[:-1])} and {dags[-1]}",
        fg="green",
    )


@app.command()
def run(
    spec: Spec,
    only: Annotated[Only | None, typer.Option(help="run only this DAG")] = None,
    logical_date: Annotated[
        datetime | None,
        typer.Option(help="run, or re-run, the DAG run of this logical date (as `airflow dags test` does)"),
    ] = None,
    on_cluster: Annotated[
        bool, typer.Option(help="trigger the DAGs on the stack of `airfoil up` (or AIRFOIL_AIRFLOW_API_URL)")
    ] = False,
) -> None:
    """Run the pipeline's DAGs in this process through Airflow (DAG.test on the embedded metadata DB),
    or, with --on-cluster, on a running Airflow's scheduler and workers."""
    from airfoil.cli.run import run_pipeline
    from airfoil.plan import DagKind

    when = logical_date.replace(tzinfo=logical_date.tzinfo or UTC) if logical_date else None
    try:
        if on_cluster:
            from airfoil.cli.cluster import run_on_cluster

            ok = run_on_cluster(spec, DagKind(only.value) if only else None)
        else:
            ok = run_pipeline(spec, DagKind(only.value) if only else None, when)
    except AirfoilError as exc:
        raise _fail(exc) from None
    if not ok:
        raise typer.Exit(1)


@app.command()
def monitor(
    name: Annotated[str, typer.Argument(help="pipeline name", show_default=False)],
    since: Annotated[
        datetime | None,
        typer.Option(help="window start (default: the end of the last monitor run of the champion)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the verdict as JSON")] = False,
) -> None:
    """Run `<name>__monitor` once through Airflow in this process: drift per feature, live metrics, alert.

    Exits 0 whatever the verdict (an alert is not an error); 1 if the monitor could not run.
    """
    from airfoil.cli.monitor import find_pipeline
    from airfoil.cli.run import run_pipeline
    from airfoil.plan import DagKind

    conf = {"since": since.replace(tzinfo=since.tzinfo or UTC).isoformat()} if since else {}
    try:
        ok = run_pipeline(find_pipeline(name), DagKind.monitor, monitor_conf=conf, as_json=as_json)
    except AirfoilError as exc:
        raise _fail(exc) from None
    if not ok:
        raise typer.Exit(1)


@app.command()
def report(
    name: Annotated[str, typer.Argument(help="pipeline (registered model) name", show_default=False)],
    version: Annotated[int | None, typer.Option(help="this version instead of the champion")] = None,
    output: Annotated[
        Path | None, typer.Option(help="HTML file to write [default: AIRFOIL_HOME/reports/NAME-vN.html]")
    ] = None,
) -> None:
    """Write the model's report: one self-contained HTML file (metrics, curves, importance, champion
    history, drift and live metrics over time). Opens offline; nothing is fetched."""
    from airfoil.report import build_report
    from airfoil.settings import load_settings

    try:
        settings = load_settings()
        shown, html = build_report(settings, name, version)
    except AirfoilError as exc:
        raise _fail(exc) from None
    path = output or settings.home / "reports" / f"{name}-v{shown}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    typer.secho(f"report of {name} v{shown}: {path} ({len(html.encode()) / 1024:.0f} KB)", fg="green")


app.command("init")(init_command)  # a first pipeline.yaml from a data file (cli/init.py)

# `airfoil up` / `status` / `down`: the production-shaped stack (cli/up.py)
app.command("up")(stack_cli.up_command)
app.command("status")(stack_cli.status_command)
app.command("down")(stack_cli.down_command)
app.command("supervise", hidden=True)(stack_cli.supervise_command)


@models_app.command("list")
def models_list(
    name: Annotated[str, typer.Argument(help="registered model (pipeline) name")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Every version of a model: aliases, test metrics, gate decision."""
    from airfoil.cli.output import versions_table
    from airfoil.registry.versions import list_versions
    from airfoil.settings import load_settings

    try:
        versions = list_versions(load_settings(), name)
    except AirfoilError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(versions, indent=2) + "\n")
    else:
        versions_table(name, versions)


@models_app.command("promote")
def models_promote(name: str, version: int) -> None:
    """Make VERSION the champion by hand (it must load and predict first)."""
    from airfoil.registry.promote import promote
    from airfoil.settings import load_settings

    try:
        out = promote(load_settings(), name, version, "promoted by hand (airfoil models promote)")
    except AirfoilError as exc:
        raise _fail(exc) from None
    if out["previous"] == out["version"]:
        typer.secho(f"{name}: v{out['version']} already is the champion", fg="green")
    else:
        typer.secho(f"{name}: champion is now v{out['version']} (was {_v(out['previous'])})", fg="green")


@models_app.command("rollback")
def models_rollback(name: str) -> None:
    """Move the champion back to the version that held it before."""
    from airfoil.registry.promote import rollback
    from airfoil.settings import load_settings

    try:
        out = rollback(load_settings(), name)
    except AirfoilError as exc:
        raise _fail(exc) from None
    typer.secho(f"{name}: champion rolled back to v{out['version']} (was v{out['previous']})", fg="green")


@app.command()
def predict(  # noqa: PLR0917 - typer maps each parameter to an option
    name: Annotated[str, typer.Argument(help="registered model (pipeline) name", show_default=False)],
    input: Annotated[Path, typer.Option("--input", "-i", help="Parquet, CSV or JSON file to score")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="also write the predictions to this Parquet file")
    ] = None,
    version: Annotated[
        int | None, typer.Option(help="score with this version instead of the champion")
    ] = None,
    chunk_rows: Annotated[int, typer.Option(help="rows read, scored and stored at a time")] = 100_000,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Score a file with the champion; every row goes to the prediction store (scored or rejected)."""
    from airfoil.cli.predict import predict_file

    try:
        summary = predict_file(
            name, input, output=output, version=version, chunk_rows=chunk_rows, quiet=as_json
        )
    except AirfoilError as exc:
        raise _fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="address to bind; 0.0.0.0 exposes the API to the network")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes, each with every champion loaded")] = 1,
) -> None:
    """Serve the champion of every registered pipeline over HTTP (OIP v2 and MLflow formats)."""
    import os

    from airfoil.serving import workers as worker_processes
    from airfoil.serving.guard import resolve_token
    from airfoil.settings import load_settings

    try:
        settings = load_settings()
        token, source = resolve_token(settings)
    except AirfoilError as exc:
        raise _fail(exc) from None
    os.environ["AIRFOIL_API_TOKEN"] = token  # every worker process answers to the same token
    typer.secho(
        f"airfoil serve on http://{host}:{port} ({workers} worker(s)), registry {settings.registry_uri}"
    )
    typer.secho(f"API token from {source}: {token}")
    typer.secho(f"try: curl -H 'Authorization: Bearer {token}' http://{host}:{port}/v1/models")
    worker_processes.run(  # uvicorn, each worker on a socket of its own (serving.workers)
        "airfoil.serving.app:create_app",
        factory=True,
        http="airfoil.serving.fast_protocol:FastProtocol",  # prediction routes without the ASGI cycle
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        limit_concurrency=settings.max_inflight * 4,
        timeout_graceful_shutdown=10,
    )


# --- transient (train-per-request) pipelines -----------------------------------------------------
transient_app = typer.Typer(
    help="Transient pipelines: a fresh model per request, predictions stored, no model kept.",
    no_args_is_help=True,
)
app.add_typer(transient_app, name="transient")


@transient_app.command("run")
def transient_run(
    spec: Spec,
    conf_file: Annotated[
        Path,
        typer.Option(help="JSON file with the request: its request_id, and rows as column -> list of values"),
    ],
) -> None:
    """Run one transient request through Airflow in this process (`<name>__transient`, DAG.test).

    Prints the outcome as one JSON line; exits 1 if the request failed (its reason is stored).
    """
    from airfoil.cli.transient import run_one

    try:
        ok = run_one(spec, conf_file)
    except AirfoilError as exc:
        raise _fail(exc) from None
    if not ok:
        raise typer.Exit(1)


@transient_app.command("worker", hidden=True)
def transient_worker() -> None:
    """Run transient requests read from stdin, one at a time, in this process (what `airfoil serve` starts).

    Each stdin line is a run message, each answer an outcome message on stdout (one JSON line each:
    airfoil.serving.transient.messages). Airflow's output goes to a log under AIRFOIL_HOME/logs.
    Airflow, scikit-learn and Airflow's in-process execution API are loaded once, not per request.
    Exits when stdin closes.
    """
    from airfoil.cli.transient import worker

    worker()


def _v(version: int | None) -> str:
    return "none" if version is None else f"v{version}"


def main() -> None:
    """The `airfoil` command. Once it is done and every atexit handler has run (MLflow's, Airflow's,
    logging's), the process ends at once: the interpreter's own teardown of the modules a pipeline
    run loads (Airflow, MLflow, scikit-learn) takes 2.6 s and does nothing a user needs."""
    outcome = {"code": 1}  # an uncaught exception: Python prints it before the atexit handlers
    atexit.register(_end_now, outcome)  # registered first, so it runs after every other handler
    try:
        app()
        outcome["code"] = 0
    except SystemExit as exc:
        if isinstance(exc.code, str):  # the message Python would print at exit
            sys.stderr.write(exc.code + "\n")
        outcome["code"] = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        raise


def _end_now(outcome: dict[str, int]) -> None:
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to flush to
            stream.flush()
    os._exit(outcome["code"])
