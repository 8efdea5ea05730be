"""`airfoil up`, `airfoil status`, `airfoil down`: the production-shaped stack on this machine."""

from __future__ import annotations

import signal
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from airfoil.airflow.processes import alive
from airfoil.errors import AirfoilError

if TYPE_CHECKING:  # the stack module is imported when a command runs: `airfoil --help` stays instant
    from airfoil.airflow.stack import Ports, Stack, StackState

START_TIMEOUT = 240.0


class Executor(StrEnum):
    local = "local"
    celery = "celery"


def up_command(  # noqa: PLR0917 - typer maps each parameter to an option
    executor: Annotated[Executor, typer.Option(help="local: LocalExecutor; celery: Celery workers")] = (
        Executor.local
    ),
    workers: Annotated[int, typer.Option(min=1, help="Celery workers (with --executor celery)")] = 2,
    detach: Annotated[bool, typer.Option(help="return once healthy; stop it with airfoil down")] = False,
    airflow_port: Annotated[int, typer.Option(help="Airflow api-server (UI)")] = 8080,
    mlflow_port: Annotated[int, typer.Option(help="MLflow server")] = 5000,
    api_port: Annotated[int, typer.Option(help="airfoil serve")] = 8000,
) -> None:
    """Start Airflow (api-server, scheduler, dag-processor, triggerer, Celery workers), an MLflow server
    and the prediction API on this machine, from configuration (docs/deploy.md)."""
    from airfoil.airflow.stack import Ports

    try:
        code = up(executor.value, workers, detach, Ports(airflow_port, mlflow_port, api_port))
    except AirfoilError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    raise typer.Exit(code)


def status_command(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Health of each component `airfoil up` started; exits 1 if one is down."""
    raise typer.Exit(status(as_json))


def down_command() -> None:
    """Stop what `airfoil up` started under this AIRFOIL_HOME, and only that."""
    raise typer.Exit(down())


def up(executor: str, workers: int, detach: bool, ports: Ports) -> int:
    from airfoil.airflow.stack import Stack, secrets_file, shared_secrets
    from airfoil.settings import load_settings

    settings = load_settings()
    stack = Stack(settings)
    if stack.running():
        typer.secho(
            f"a stack is already running under {settings.home}; not starting a second one", fg="yellow"
        )
        restarted = stack.restart_dead()
        if restarted:
            typer.echo(f"restarted what had died: {', '.join(restarted)}")
            state = stack.state()
            assert state is not None
            _wait_healthy(stack, state)
        show_status(stack)
        return 0
    stack.check(executor)
    first = not secrets_file(settings).exists()
    password = shared_secrets(settings)["admin_password"]
    typer.echo(f"airfoil up: {executor} executor, Airflow DB {_safe(settings.airflow_db_url)}")
    state = stack.start(executor, workers, ports)
    try:
        _wait_healthy(stack, state)
    except AirfoilError:
        stack.stop()
        raise
    stack.start_supervisor()  # from now on, a component that exits is started again
    show_status(stack)
    typer.secho(f"\nAirflow UI  http://127.0.0.1:{ports.airflow}  (user admin)", fg="green")
    if first:
        typer.secho(f"admin password (shown once; kept in {secrets_file(settings)}, mode 600): {password}")
    else:
        typer.echo(f"admin password: in {secrets_file(settings)}")
    typer.echo(f"MLflow UI   http://127.0.0.1:{ports.mlflow}")
    typer.echo(f"API         http://127.0.0.1:{ports.api}  (token: api_token in {secrets_file(settings)})")
    if settings.mlflow_db_url != settings.tracking_uri:  # else this shell reads the same store already
        typer.echo(f"this shell's registry: export AIRFOIL_TRACKING_URI=http://127.0.0.1:{ports.mlflow}")
    typer.echo(f"logs        {stack.dir / 'logs'}")
    if detach:
        typer.echo("stop it with: airfoil down")
        return 0
    typer.echo("running; Ctrl-C stops the stack")
    _wait_for_signal()
    stopped = stack.stop()
    typer.echo(f"stopped {len(stopped)} process(es)")
    return 0


def supervise_command() -> None:
    """Started by `airfoil up`: restart the stack's components that exit (hidden)."""
    from airfoil.airflow.stack import Stack
    from airfoil.airflow.supervisor import supervise
    from airfoil.settings import load_settings

    supervise(Stack(load_settings()))


def down() -> int:
    from airfoil.airflow.stack import Stack
    from airfoil.settings import load_settings

    stack = Stack(load_settings())
    if stack.state() is None:
        typer.echo("no stack is running under this AIRFOIL_HOME")
        return 0
    stopped = stack.stop()
    typer.secho(f"stopped {len(stopped)} process(es): {', '.join(stopped) or 'none was alive'}", fg="green")
    return 0


def status(as_json: bool) -> int:
    from airfoil.airflow.stack import Stack
    from airfoil.settings import load_settings

    stack = Stack(load_settings())
    rows = health(stack)
    if as_json:
        import json

        typer.echo(json.dumps(rows, indent=2))
    else:
        show_status(stack, rows)
    return 0 if rows and all(r["healthy"] for r in rows) else 1


def health(stack: Stack) -> list[dict[str, Any]]:
    """Each recorded component: its pid, whether the process lives, and its health endpoint's answer."""
    state = stack.state()
    if state is None:
        return []
    checks = _http_checks(state)
    out = []
    for p in state.processes:
        up_ = alive(p)
        detail = checks.get(p.name, "process alive" if up_ else "process gone")
        healthy = up_ and not detail.startswith(("unhealthy", "no answer"))
        out.append({"component": p.name, "pid": p.pid, "alive": up_, "healthy": healthy, "detail": detail})
    return out


def show_status(stack: Stack, rows: list[dict[str, Any]] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = health(stack) if rows is None else rows
    if not rows:
        typer.echo("no stack is running under this AIRFOIL_HOME (start one with: airfoil up)")
        return
    table = Table(title=f"airfoil stack under {stack.settings.home}", title_justify="left")
    for col in ("component", "pid", "health", "detail"):
        table.add_column(col)
    for r in rows:
        mark = "[green]healthy[/]" if r["healthy"] else "[red]down[/]"
        table.add_row(r["component"], str(r["pid"]), mark, r["detail"])
    Console().print(table)


def _http_checks(state: StackState) -> dict[str, str]:
    import httpx

    ports = state.ports
    out: dict[str, str] = {}
    with httpx.Client(timeout=3) as client:
        try:
            body = client.get(f"http://127.0.0.1:{ports.airflow}/api/v2/monitor/health").json()
            out["airflow api-server"] = f"metadatabase {body['metadatabase']['status']}"
            for key, name in (
                ("scheduler", "airflow scheduler"),
                ("dag_processor", "airflow dag-processor"),
                ("triggerer", "airflow triggerer"),
            ):
                st = (body.get(key) or {}).get("status")
                out[name] = f"heartbeat {st}" if st == "healthy" else f"unhealthy: heartbeat {st}"
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            out["airflow api-server"] = f"no answer from /api/v2/monitor/health ({type(exc).__name__})"
        for name, url in (
            ("mlflow server", f"http://127.0.0.1:{ports.mlflow}/health"),
            ("airfoil serve", f"http://127.0.0.1:{ports.api}/v2/health/live"),
        ):
            try:
                code = client.get(url).status_code
                out[name] = "answers" if code == 200 else f"unhealthy: {url} answered {code}"
            except httpx.HTTPError as exc:
                out[name] = f"no answer from {url} ({type(exc).__name__})"
    return out


def _wait_healthy(stack: Stack, state: StackState) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        dead = [p for p in state.processes if not alive(p)]
        if dead:
            raise AirfoilError(f"{dead[0].name} exited during start-up; its log:\n{_tail(dead[0].log)}")
        rows = health(stack)
        if rows and all(r["healthy"] for r in rows):
            return
        if time.monotonic() > deadline:
            bad = [r for r in rows if not r["healthy"]]
            raise AirfoilError(
                f"the stack was not healthy within {START_TIMEOUT:.0f} s: "
                + "; ".join(f"{r['component']}: {r['detail']}" for r in bad)
            )
        time.sleep(1.0)


def _tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_for_signal() -> None:
    stop = {"now": False}

    def handler(*_: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not stop["now"]:
        time.sleep(0.5)


def _safe(url: str) -> str:
    """A URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
