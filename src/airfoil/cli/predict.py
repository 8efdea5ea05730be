"""`airfoil predict`: score a file with the champion, every row into the prediction store, with progress."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from airfoil.errors import DataError

if TYPE_CHECKING:
    from airfoil.registry.loaded import LoadedModel
    from airfoil.settings import Settings
    from airfoil.store.plain import PlainStore


def predict_file(
    name: str,
    path: Path,
    *,
    output: Path | None = None,
    version: int | None = None,
    chunk_rows: int = 100_000,
    quiet: bool = False,
) -> dict[str, Any]:
    """Score `path` with `name`'s champion (or `version`); return the summary printed to the user."""
    from airfoil.settings import load_settings
    from airfoil.spec.catalog import find_spec
    from airfoil.steps.blocks import file_block
    from airfoil.steps.readers import format_of
    from airfoil.steps.scoring import score_source
    from airfoil.store import BatchKind
    from airfoil.store.plain import open_plain_store, shown_url

    if not path.is_file():
        raise DataError(f"--input {path} is not a file")
    if chunk_rows < 100:
        raise DataError(f"--chunk-rows {chunk_rows}: use at least 100")
    settings = load_settings()
    console = Console(stderr=True, highlight=False)
    started = time.perf_counter()
    uri = str(path.resolve())
    found = find_spec(settings, name)
    spec = found[0] if found else None
    # The file's sha256 (the block id) is computed in the background while the model loads and,
    # for a file this store has not seen, while its rows are scored (`_block_key`).
    with ThreadPoolExecutor(1, thread_name_prefix="airfoil-sha256") as pool:
        hashing = pool.submit(file_block, uri)
        with console.status(f"loading {name} and fingerprinting {path.name}..."):
            model = _model(settings, name, version)
            store = open_plain_store(settings)
            key, fingerprint, final = _block_key(store, name, uri, hashing)
        chosen = model.version
        fmt = format_of(uri, None, "--input")
        label = f"{name} v{chosen} › {path.name}"
        with _progress(console, label, _rows(path, fmt), hidden=quiet) as advance:
            result = score_source(
                store,
                model,
                pipeline=name,
                kind=BatchKind.file,
                key=key,
                source=uri,
                fingerprint=fingerprint,
                fmt=fmt,
                rules=spec.validation.columns if spec else None,
                key_column=spec.deploy.batch.key if spec and spec.deploy.batch else None,
                chunk_rows=chunk_rows,
                output=str(output.resolve()) if output else None,
                progress=advance,
                final_key=final,
            )
    seconds = time.perf_counter() - started
    summary = {
        **result,
        "model": name,
        "model_version": chosen,
        "backend": model.backend,  # onnx | sklearn
        "seconds": round(seconds, 3),
        "rows_per_s": round(result["rows"] / seconds) if seconds > 0 else None,
        "store": shown_url(settings.store_url),
        "output": str(output) if output else None,
    }
    if not quiet:
        _report(console, summary, path, again=result["seconds"] == 0.0)
    return summary


def _block_key(
    store: PlainStore, name: str, uri: str, hashing: Future[dict[str, Any]]
) -> tuple[str, str | None, Callable[[], tuple[str, str]] | None]:
    """(key, fingerprint, final key) of the file's batch. A file this store has never scored is drafted
    under a provisional key, renamed to `<uri>@<sha256[:16]>` once its hash is known (`final`); a
    file it has seen waits for the hash: its batch may be done or resumable."""
    from airfoil.store import BatchKind

    def final() -> tuple[str, str]:
        block = hashing.result()
        return f"{uri}@{block['fingerprint'][:16]}", block["fingerprint"]

    if hashing.done() or store.has_source(name, BatchKind.file, uri):
        key, fingerprint = final()
        return key, fingerprint, None
    return f"{uri}@draft-{uuid.uuid4().hex[:16]}", None, final


def _model(settings: Settings, name: str, version: int | None) -> LoadedModel:
    """The champion (or `version`): from its card without MLflow when the registry allows it."""
    from airfoil.registry import lookup
    from airfoil.registry.loaded import process_models

    if version is None:
        version, card = lookup.champion(settings, name)
        if card is not None:
            return process_models.get_card(settings, card)
    return process_models.get(settings, name, version)


@contextmanager
def _progress(
    console: Console, label: str, total: int | None, hidden: bool
) -> Iterator[Callable[[int], None]]:
    """A progress bar of rows and rows/s (on a terminal); yields the function that advances it."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
        disable=hidden or not sys.stderr.isatty(),
    ) as progress:
        bar = progress.add_task("score", total=total, rate="")
        t0 = time.perf_counter()

        def advance(rows: int) -> None:
            progress.advance(bar, rows)
            done = progress.tasks[0].completed
            progress.update(bar, rate=f"{done / max(time.perf_counter() - t0, 1e-9):,.0f} rows/s")

        yield advance


def _report(console: Console, summary: dict[str, Any], path: Path, again: bool) -> None:
    name, chosen, seconds = summary["model"], summary["model_version"], summary["seconds"]
    nothing = " (already scored by this version: nothing to do)" if again else ""
    console.print(
        f"[green]{summary['rows']:,} rows[/] of {path} with {name} v{chosen}: "
        f"{summary['scored']:,} scored, {summary['rejected']:,} rejected, "
        f"in {seconds:.1f}s ({summary['rows_per_s'] or 0:,} rows/s){nothing}",
        soft_wrap=True,
    )
    console.print(f"stored in {summary['store']} (batch {summary['block']})", soft_wrap=True)
    if summary["output"]:
        console.print(f"written to {summary['output']}", soft_wrap=True)
    if summary["rejected"]:
        console.print(
            "[yellow]rejected rows are stored with their reason[/] (column `rejected` of "
            "airfoil_predictions)",
            soft_wrap=True,
        )


def _rows(path: Path, fmt: str) -> int | None:
    """Rows in the file when its metadata says so cheaply (Parquet); None otherwise."""
    if fmt != "parquet":
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)
