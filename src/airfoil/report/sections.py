"""The report's sections, each a function of the `report.gather` result that returns HTML. A section
with nothing to show says why and what would fill it."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from airfoil.report import svg


def summary(r: dict[str, Any]) -> str:
    v = r["current"]
    promoted = v["promoted"]
    gate = _verdict(promoted["passed"], "passed the gate", "failed the gate", "not gated yet")
    last = r["monitor"][-1] if r["monitor"] else None
    rows = [
        (
            "version",
            f"v{r['version']} " + "".join(f"<span class='tag {a}'>{escape(a)}</span> " for a in v["aliases"]),
        ),
        ("champion now", f"v{r['champion']}" if r["champion"] is not None else "none"),
        ("task", escape(r["task"])),
        ("estimator", f"<code>{escape(v.get('estimator') or '?')}</code>"),
        ("selection metric", escape(r.get("metric") or "?")),
        ("registered", escape(v["created_at"])),
        ("gate", f"{gate} — {escape(promoted['reason'])}"),
        ("dataset fingerprint", f"<code>{escape(str(v.get('dataset_fingerprint')))}</code>"),
        ("model sha256", f"<code>{escape(str(v.get('sha256')))}</code>"),
        ("served by", escape(str(v.get("served_by") or v.get("onnx")))),
        ("MLflow run", mlflow_link(r["links"], v.get("run_id"))),
        ("Airflow DAG run", airflow_link(r["links"], v["airflow"]["dag_id"], v["airflow"]["run_id"])),
        ("last monitor run", _monitor_line(last) if last else "none yet"),
    ]
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{val}</dd>" for k, val in rows) + "</dl>"


def metrics(r: dict[str, Any]) -> str:
    m = r["current"]["metrics"]
    if not m:
        return _none("this version recorded no test metrics")
    head = "<tr><th>metric</th><th class='num'>test split</th></tr>"
    body = "".join(
        f"<tr><td>{escape(k)}</td><td class='num'>{val:.4f}</td></tr>" for k, val in sorted(m.items())
    )
    return f"<table>{head}{body}</table>"


def evaluation(r: dict[str, Any]) -> str:
    d = r["diagnostics"]
    if not d:
        return _none(
            "no diagnostics stored with this version (it was trained before reports existed); retrain it"
        )
    charts = []
    if d["task"] == "classification":
        labels = [str(c) for c in d["classes"]]
        charts.append(svg.matrix(f"confusion matrix ({d['rows']} test rows)", labels, d["confusion"]))
        if d["roc"]:
            roc = svg.Chart(
                "ROC curve",
                (0, 1),
                (0, 1),
                "false positive rate",
                "true positive rate",
                legend_at="bottom-right",
            )
            roc.line([0, 1], [0, 1], "#999", dash=True)
            for i, c in enumerate(d["roc"]):
                roc.line(c["x"], c["y"], svg.PALETTE[i % 8], f"{c['class']} AUC {c['auc']:.3f}")
            pr = svg.Chart(
                "precision-recall curve", (0, 1), (0, 1.02), "recall", "precision", legend_at="bottom-left"
            )
            for i, c in enumerate(d["pr"]):
                color = svg.PALETTE[i % 8]
                pr.line(c["x"], c["y"], color, f"{c['class']} AP {c['average_precision']:.3f}")
                pr.hline(c["prevalence"], color)
            charts += [roc.render(), pr.render()]
        else:
            charts.append(
                _none("no probabilities: the estimator has no predict_proba, so no ROC or PR curve")
            )
    else:
        res = d["residuals"]
        pred, actual = res["predicted"], res["actual"]
        resid = [a - p for a, p in zip(actual, pred, strict=True)]
        lo, hi = svg.padded(pred + actual)
        scatter = svg.Chart(
            "residuals vs predicted",
            svg.padded(pred),
            svg.padded(resid),
            "predicted",
            "actual − predicted",
        )
        scatter.hline(0.0, "#999")
        scatter.points(pred, resid, svg.PALETTE[0])
        fit = svg.Chart("actual vs predicted", (lo, hi), (lo, hi), "predicted", "actual")
        fit.line([lo, hi], [lo, hi], "#999", dash=True)
        fit.points(pred, actual, svg.PALETTE[0])
        hist = res["histogram"]
        charts += [
            scatter.render(),
            fit.render(),
            svg.histogram(
                f"residuals: mean {res['mean']:.3g}, std {res['std']:.3g}",
                hist["counts"],
                hist["edges"],
                "actual − predicted",
            ),
        ]
    return f"<div class='charts'>{''.join(charts)}</div>"


def importance(r: dict[str, Any]) -> str:
    d = r["diagnostics"]
    if not d or not d.get("importance"):
        return _none("no permutation importance stored with this version; retrain it to compute one")
    imp = d["importance"]
    top = imp["features"][:25]
    note = (
        f"<p class='muted'>Drop in test {escape(imp['metric'])} when a column is shuffled "
        f"({imp['repeats']} repeats on {imp['rows']} test rows); bars ± one std. "
        f"{len(imp['features']) - len(top)} more column(s) not drawn.</p>"
        if len(imp["features"]) > 25
        else f"<p class='muted'>Drop in test {escape(imp['metric'])} when a column is shuffled "
        f"({imp['repeats']} repeats on {imp['rows']} test rows); bars ± one std.</p>"
    )
    chart = svg.bars(
        "permutation importance",
        [f["feature"] for f in top],
        [f["mean"] for f in top],
        [f["std"] for f in top],
        f"drop in {imp['metric']}",
    )
    return note + chart


def history(r: dict[str, Any]) -> str:
    metric = r.get("metric") or ""
    held = set(r["history"])
    head = (
        "<tr><th>version</th><th>registered</th><th>estimator</th>"
        f"<th class='num'>test {escape(metric)}</th><th>gate</th><th>reason</th><th>links</th></tr>"
    )
    body = []
    for v in r["versions"]:
        tags = "".join(f" <span class='tag {a}'>{escape(a)}</span>" for a in v["aliases"])
        value = v["metrics"].get(metric)
        gate = _verdict(v["promoted"]["passed"], "passed", "failed", "—")
        was = " (was champion)" if v["version"] in held and "champion" not in v["aliases"] else ""
        body.append(
            f"<tr><td>v{v['version']}{tags}{was}</td><td>{escape(v['created_at'][:19])}</td>"
            f"<td><code>{escape((v.get('estimator') or '?').rsplit('.', 1)[-1])}</code></td>"
            f"<td class='num'>{'—' if value is None else f'{value:.4f}'}</td><td>{gate}</td>"
            f"<td>{escape(v['promoted']['reason'])}</td>"
            f"<td>{mlflow_link(r['links'], v.get('run_id'))} · "
            f"{airflow_link(r['links'], v['airflow']['dag_id'], v['airflow']['run_id'])}</td></tr>"
        )
    order = " → ".join(f"v{v}" for v in r["history"]) or "no champion yet"
    chart = ""
    points = [(v["version"], v["metrics"][metric]) for v in reversed(r["versions"]) if metric in v["metrics"]]
    if len(points) > 1:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        c = svg.Chart(
            f"test {metric} by version",
            (min(xs), max(xs)),
            (min(ys), max(ys)),
            "version",
            metric,
            x_ticks=[(x, f"v{x}") for x in xs],
        )
        c.line(xs, ys, svg.PALETTE[0], f"test {metric}")
        champs = [(x, y) for x, y in points if x in held]
        c.points([x for x, _ in champs], [y for _, y in champs], svg.PALETTE[2], "held champion", r=4)
        chart = c.render()
    return f"<p>Champion history: {order}</p><table>{head}{''.join(body)}</table>{chart}"


def drift(r: dict[str, Any]) -> str:
    runs = [m for m in r["monitor"] if m.get("features")]
    if not runs:
        return _none(
            f"no monitor runs with scored rows for v{r['version']} yet; run `airfoil monitor {r['name']}`"
        )
    names = [f["name"] for f in runs[-1]["features"]]
    labels = [_day(m) for m in runs]
    values, marks = [], []
    for name in names:
        row = [next((f for f in m["features"] if f["name"] == name), None) for m in runs]
        values.append(
            [
                None if f is None or not m.get("decided", True) else f["psi"]
                for f, m in zip(row, runs, strict=True)
            ]
        )
        marks.append([bool(f and f["drifted"]) for f in row])
    heat = svg.heatmap(
        f"PSI per feature, {len(runs)} monitor windows (red outline: drifted)",
        names,
        labels,
        values,
        marks,
        scale=0.5,
    )
    xs = list(range(len(runs)))
    ticks = [(i, _day(runs[i], "%Y-%m-%d")) for i in xs[:: max(1, len(xs) // 5)]]
    share = svg.Chart(
        "share of features drifting",
        (-0.5, len(xs) - 0.5),
        (0, 1),
        "window",
        "share",
        x_ticks=ticks,
        width=560,
    )
    share.line(xs, [m["drift_share"] for m in runs], svg.PALETTE[1], "drift share")
    share.points(xs, [m["drift_share"] for m in runs], svg.PALETTE[1], r=2.5)
    share.points(
        xs,
        [1.0 if (m.get("prediction_drift") or {}).get("drifted") else None for m in runs],
        svg.PALETTE[3],
        "predictions drifted",
        r=3.5,
    )
    last = runs[-1]
    head = _head("feature", "test", "#statistic", "#p adj.", "#PSI", "verdict")
    body = "".join(
        f"<tr><td>{escape(f['name'])}</td><td>{escape(f['test'])}</td>"
        f"<td class='num'>{f['statistic']:.4g}</td>"
        f"<td class='num'>{_p(f.get('p_adjusted'))}</td><td class='num'>{f['psi']:.4f}</td>"
        f"<td>{_verdict(not f['drifted'], 'stable', 'drifted', '')}</td></tr>"
        for f in sorted(last["features"], key=lambda f: -f["psi"])
    )
    return (
        f"<div class='charts'>{heat}{share.render()}</div><p>Last window ({escape(_monitor_line(last))}):</p>"
        f"<table>{head}{body}</table>"
    )


def live(r: dict[str, Any]) -> str:
    runs = [m for m in r["monitor"] if m.get("performance")]
    if not runs:
        return _none("no labels have arrived for scored rows yet; point `monitor.labels` at them")
    names = sorted({k for m in runs for k in m["performance"]})
    xs = list(range(len(runs)))
    ticks = [(i, _day(runs[i], "%m-%d")) for i in xs[:: max(1, len(xs) // 4)]]
    test = r["current"]["metrics"]
    charts = []
    for i, k in enumerate(names):  # one chart per metric: rmse and r2 do not share a scale
        ys = [m["performance"].get(k) for m in runs]
        finite = [v for v in [*ys, test.get(k)] if v is not None]
        chart = svg.Chart(
            f"live {k}", (-0.5, len(xs) - 0.5), svg.padded(finite), "window", k,
            width=300, height=210, x_ticks=ticks,
        )  # fmt: skip
        color = svg.PALETTE[i % 8]
        chart.line(xs, ys, color)
        chart.points(xs, ys, color, r=3)
        if k in test:
            chart.hline(test[k], "#666")
        charts.append(chart.render())
    rows = "".join(f"<td class='num'>{m.get('performance_rows', 0)}</td>" for m in runs[-8:])
    return (
        f"<div class='charts'>{''.join(charts)}</div>"
        "<p class='muted'>Dashed: the same metric on the test split at training.</p>"
        f"<table><tr><th>labelled rows, last windows</th>{rows}</tr></table>"
    )


def mlflow_link(links: dict[str, Any], run_id: str | None) -> str:
    if not run_id:
        return "—"
    if links.get("mlflow") and links.get("experiment"):
        url = f"{links['mlflow']}/#/experiments/{links['experiment']}/runs/{run_id}"
        return f"<a href='{escape(url)}' target='_top'>MLflow run</a>"
    return f"MLflow run <code>{escape(run_id[:12])}</code>"


def airflow_link(links: dict[str, Any], dag_id: str | None, run_id: str | None) -> str:
    if not dag_id or not run_id:
        return "—"
    if links.get("airflow") is not None:
        url = f"{links['airflow']}/dags/{dag_id}/runs/{run_id}"
        return f"<a href='{escape(url)}' target='_top'>DAG run</a>"
    return f"<code>{escape(dag_id)}</code> <code>{escape(run_id)}</code>"


def _monitor_line(m: dict[str, Any]) -> str:
    state = "alert: " + "; ".join(m.get("reasons") or []) if m.get("alert") else "no alert"
    return f"{_day(m)} · {m.get('rows', 0)} rows · {state}"


def _day(m: dict[str, Any], fmt: str = "%Y-%m-%d %H:%M") -> str:
    end = (m.get("window") or {}).get("end_s")
    return datetime.fromtimestamp(end, UTC).strftime(fmt) if end else "?"


def _verdict(good: bool | None, yes: str, no: str, unknown: str) -> str:
    if good is None:
        return f"<span class='muted'>{unknown}</span>"
    return f"<span class='ok'>{yes}</span>" if good else f"<span class='bad'>{no}</span>"


def _p(v: float | None) -> str:
    return "—" if v is None else f"{v:.3g}"


def _head(*names: str) -> str:
    """A table's header row; a name starting with # is a number column (right-aligned)."""
    cells = "".join(f"<th class='num'>{n[1:]}</th>" if n.startswith("#") else f"<th>{n}</th>" for n in names)
    return f"<tr>{cells}</tr>"


def _none(why: str) -> str:
    return f"<p class='muted'>{escape(why)}</p>"
