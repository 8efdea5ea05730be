"""Evaluate step: pick the best candidate by CV score, measure every candidate on the test set, plot,
and compute what the model report draws (`steps.diagnostics`)."""

from __future__ import annotations

import io as pyio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airfoil.artifacts import io, modelfile
from airfoil.steps import metrics
from airfoil.steps.context import StepContext
from airfoil.steps.diagnostics import diagnostics, importance
from airfoil.steps.model import feature_frame, positive_class


def evaluate(ctx: StepContext, dataset: dict[str, Any], tuned: list[dict[str, Any]]) -> dict[str, Any]:
    """Choose the candidate with the best CV score; test metrics for all; plots for the chosen one."""
    spec = ctx.spec
    tuned = sorted(tuned, key=lambda t: t["candidate"])
    test = io.read_parquet(dataset["test"])
    X, y = feature_frame(test, spec), test[spec.target]
    chosen = max(tuned, key=lambda t: t["rank_score"])
    chosen_model = modelfile.load(chosen["model"])
    rows = []
    chosen_predictions = None
    # The chosen model's permutation importance runs on the CV worker pool (other processes) while
    # this thread predicts, scores and plots: the pool's wait is this thread's work.
    with ThreadPoolExecutor(1, thread_name_prefix="airfoil-importance") as pool:
        ranked = pool.submit(importance, spec, chosen_model, X, y)
        for t in tuned:
            model = chosen_model if t is chosen else modelfile.load(t["model"])
            predictions = metrics.predict(spec, model, X)  # once per candidate: metrics, plots, report
            rows.append(
                {
                    "candidate": t["candidate"],
                    "estimator": t["estimator"],
                    "best_params": t["best_params"],
                    "cv_score": t["cv_score"],
                    "cv_std": t["cv_std"],
                    "test": metrics.compute(spec, model, X, y, predictions),
                }
            )
            if t is chosen:
                chosen_predictions = predictions
        assert chosen_predictions is not None
        plots = _plots(ctx, chosen_model, y, chosen_predictions)
        report = diagnostics(spec, chosen_model, X, y, chosen_predictions, ranked=ranked.result())
    report_uri = ctx.uri("diagnostics.json")
    result = {
        "chosen": chosen["candidate"],
        "metric": spec.metric,
        "metrics": next(r["test"] for r in rows if r["candidate"] == chosen["candidate"]),
        "candidates": rows,
        "model": chosen["model"],
        "plots": plots,
        "diagnostics": {"uri": report_uri, "sha256": io.write_json(report_uri, report)},
        "dataset_fingerprint": dataset["fingerprint"],
    }
    io.write_json(ctx.uri("evaluation.json"), result)
    return result


def _plots(ctx: StepContext, model: Any, y: Any, p: metrics.Predictions) -> dict[str, str]:
    """Confusion matrix + ROC curve (classification) or residual plots (regression), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PredictionErrorDisplay, RocCurveDisplay

    out: dict[str, str] = {}
    figures: dict[str, Any] = {}
    if ctx.spec.task == "classification":
        fig, ax = plt.subplots(figsize=(5, 4.5))
        ConfusionMatrixDisplay.from_predictions(y, p.pred, ax=ax, colorbar=False)
        ax.set_title(f"{ctx.spec.name}: confusion matrix (test set)")
        figures["confusion_matrix.png"] = fig
        if p.proba is not None:
            fig, ax = plt.subplots(figsize=(5, 4.5))
            classes = list(model.classes_)
            proba = p.proba
            targets = [positive_class(ctx.spec, classes)] if len(classes) == 2 else classes
            for c in targets:
                if (y == c).any() and not (y == c).all():
                    RocCurveDisplay.from_predictions(
                        y == c, proba[:, classes.index(c)], pos_label=True, ax=ax, name=f"class {c}"
                    )
            ax.set_title(f"{ctx.spec.name}: ROC curve (test set)")
            ax.set_xlabel("false positive rate")
            ax.set_ylabel("true positive rate")
            figures["roc_curve.png"] = fig
    else:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
        PredictionErrorDisplay.from_predictions(y, p.pred, kind="residual_vs_predicted", ax=axes[0])
        PredictionErrorDisplay.from_predictions(y, p.pred, kind="actual_vs_predicted", ax=axes[1])
        fig.suptitle(f"{ctx.spec.name}: residuals (test set)")
        figures["residuals.png"] = fig
    for name, fig in figures.items():
        buf = pyio.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        uri = ctx.uri(name)
        io.write_bytes(uri, buf.getvalue())
        out[name] = uri
    return out
