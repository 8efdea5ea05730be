"""The batch DAG's steps: pin the champion, find new input blocks, score each one, sum up the run.

The ledger (`airfoil_batches`, kind `block`) says which blocks are done; `score` streams one block
through the pinned version with the scoring engine (`steps.scoring`). On a cluster every `score` task
is a new process: `champion` hands it the version's card and the few spec fields scoring reads
(`scoring_fields`), so it imports neither MLflow nor the spec's pydantic model.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airfoil.artifacts.arrow_start import skip_pandas_probe
from airfoil.errors import DataError
from airfoil.registry.card import model_card
from airfoil.registry.loaded import process_models
from airfoil.registry.versions import require_champion
from airfoil.steps import blocks
from airfoil.steps.checks import Bounds
from airfoil.steps.context import StepContext
from airfoil.steps.scoring import score_source
from airfoil.store import BatchKind, BatchStatus
from airfoil.store.plain import open_plain_store

if TYPE_CHECKING:
    from airfoil.spec.model import Batch as BatchSpec

log = logging.getLogger("airfoil.batch")


def pin_champion(ctx: StepContext) -> dict[str, Any]:
    """The champion version now: every block of the run is scored with it, even if the alias moves.
    Its card lets each `score` task load it from the artifact store without MLflow, and the spec's
    scoring fields let it run without reading the spec."""
    version = require_champion(ctx.settings, ctx.spec.name)
    card = model_card(ctx.settings, ctx.spec.name, version)
    return {"version": version, "card": card, "scoring": scoring_fields(ctx)}


def scoring_fields(ctx: StepContext) -> dict[str, Any]:
    """What `score` reads of the spec, as JSON: the pipeline's name, `deploy.batch`'s key, chunk size
    and Parquet switch, and the min / max / allowed values of `validation.columns`."""
    spec = _batch_spec(ctx)
    rules = {
        name: {"min": rule.min, "max": rule.max, "allowed": rule.allowed}
        for name, rule in ctx.spec.validation.columns.items()
    }
    return {
        "pipeline": ctx.spec.name,
        "key": spec.key,
        "chunk_rows": spec.chunk_rows,
        "write_parquet": spec.write_parquet,
        "rules": rules,
    }


def discover(ctx: StepContext) -> list[dict[str, Any]]:
    """Blocks of `deploy.batch.input` not scored yet: one mapped `score` task each."""
    from airfoil.spec.model import SqlSource

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
    """Score one block with the pinned champion version; store every row (scored or rejected).

    The spec is read only when the `champion` task handed no scoring fields (a run it started before
    it did)."""
    skip_pandas_probe()  # a new process per block on a cluster: pandas would be a third of its start
    fields = model.get("scoring") or scoring_fields(ctx)
    card = model.get("card")
    loaded = (
        process_models.get_card(ctx.settings, card)
        if card
        else process_models.get(ctx.settings, fields["pipeline"], int(model["version"]))
    )
    return score_source(
        open_plain_store(ctx.settings),
        loaded,
        pipeline=fields["pipeline"],
        kind=BatchKind.block,
        key=block["id"],
        source=block["uri"],
        fingerprint=block["fingerprint"],
        fmt=block["format"],
        rules={name: Bounds(**rule) for name, rule in fields["rules"].items()},
        key_column=fields["key"],
        chunk_rows=int(fields["chunk_rows"]),
        output=block["uri"] + blocks.PREDICTIONS_SUFFIX if fields["write_parquet"] else None,
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
