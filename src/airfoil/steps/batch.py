"""The batch DAG's steps: pin the champion, find new input blocks, score each one, sum up the run.

The ledger (`airfoil_batches`, kind `block`) says which blocks are done; `score` streams one block
through the pinned version with the scoring engine (`steps.scoring`).
"""

from __future__ import annotations

import logging
from typing import Any

from airfoil.errors import DataError
from airfoil.registry.card import model_card
from airfoil.registry.loaded import process_models
from airfoil.registry.versions import require_champion
from airfoil.spec.model import Batch as BatchSpec
from airfoil.spec.model import SqlSource
from airfoil.steps import blocks
from airfoil.steps.context import StepContext
from airfoil.steps.scoring import score_source
from airfoil.store import BatchKind, BatchStatus
from airfoil.store.plain import open_plain_store

log = logging.getLogger("airfoil.batch")


def pin_champion(ctx: StepContext) -> dict[str, Any]:
    """The champion version now: every block of the run is scored with it, even if the alias moves.
    Its card lets each `score` task load it from the artifact store without MLflow."""
    version = require_champion(ctx.settings, ctx.spec.name)
    return {"version": version, "card": model_card(ctx.settings, ctx.spec.name, version)}


def discover(ctx: StepContext) -> list[dict[str, Any]]:
    """Blocks of `deploy.batch.input` not scored yet: one mapped `score` task each."""
    spec = _batch_spec(ctx)
    if isinstance(spec.input, SqlSource):
        found = [blocks.snapshot_query(spec.input, ctx.uri("query.parquet"))]
    else:
        found = blocks.list_files(spec.input, spec.format)
    from airfoil.store import open_store

    store = open_store(ctx.settings)
    todo = []
    for block in found:
        entry, _ = store.open_batch(
            ctx.spec.name, BatchKind.block, block["id"], source=block["uri"], fingerprint=block["fingerprint"]
        )
        if entry.status != BatchStatus.done:
            todo.append(block)
    log.info("airfoil: %d block(s) found, %d not scored yet", len(found), len(todo))
    return todo


def score(ctx: StepContext, model: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """Score one block with the pinned champion version; store every row (scored or rejected)."""
    spec = _batch_spec(ctx)
    card = model.get("card")
    loaded = (
        process_models.get_card(ctx.settings, card)
        if card
        else process_models.get(ctx.settings, ctx.spec.name, int(model["version"]))
    )
    return score_source(
        open_plain_store(ctx.settings),
        loaded,
        pipeline=ctx.spec.name,
        kind=BatchKind.block,
        key=block["id"],
        source=block["uri"],
        fingerprint=block["fingerprint"],
        fmt=block["format"],
        rules=ctx.spec.validation.columns,
        key_column=spec.key,
        chunk_rows=spec.chunk_rows,
        output=block["uri"] + blocks.PREDICTIONS_SUFFIX if spec.write_parquet else None,
        dag_id=ctx.run.dag_id,
        dag_run_id=ctx.run.run_id,
    )


def summarize(ctx: StepContext, model: dict[str, Any], scored: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals of the run (blocks and rows scored / rejected) and of the ledger (blocks done before)."""
    from airfoil.store import open_store

    ledger = open_store(ctx.settings).batches(ctx.spec.name, BatchKind.block)
    this_run = {s["block"] for s in scored}
    return {
        "model_version": model["version"],
        "blocks_scored": len(scored),
        "blocks_done_before": sum(
            1 for b in ledger if b.status == BatchStatus.done and b.batch_key not in this_run
        ),
        "rows": sum(s["rows"] for s in scored),
        "scored": sum(s["scored"] for s in scored),
        "rejected": sum(s["rejected"] for s in scored),
        "blocks": [
            {k: s[k] for k in ("block", "rows", "scored", "rejected", "resumed_at", "rows_per_s")}
            for s in scored
        ],
    }


def _batch_spec(ctx: StepContext) -> BatchSpec:
    if ctx.spec.deploy.batch is None:
        raise DataError(f"pipeline {ctx.spec.name!r} has no deploy.batch section: nothing to score")
    return ctx.spec.deploy.batch
