"""report.page / sections / svg: the page for classifiers and regressors, and for versions with nothing
to show yet, from report data shaped as `report.gather` returns it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from airfoil.report import svg
from airfoil.report.models import render_models
from airfoil.report.page import CSP, SECTIONS, render


def _version(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "version": n,
        "aliases": ["champion"] if n == 2 else [],
        "metrics": {"f1": 0.9 + n / 100, "accuracy": 0.95},
        "status": "READY",
        "dataset_fingerprint": "abc",
        "created_at": f"2026-11-2{n}T10:00:00+00:00",
        "promoted": {"passed": n == 2, "reason": "test f1 ≥ 0.9" if n == 2 else "f1 < 0.95", "at": None},
        "run_id": f"run{n}",
        "estimator": "sklearn.linear_model.LogisticRegression",
        "airflow": {"dag_id": "demo__train", "run_id": f"manual__{n}"},
        "sha256": "f00",
        "onnx": "verified",
        **extra,
    }


def _window(day: int, drifted: bool, perf: dict[str, float] | None) -> dict[str, Any]:
    feature = {"name": "x1", "type": "numeric", "test": "ks", "statistic": 0.3 if drifted else 0.01,
               "p_value": 0.001, "p_adjusted": 0.002, "threshold": 0.05, "psi": 0.4 if drifted else 0.01,
               "js": 0.1, "min_psi": 0.1, "drifted": drifted}  # fmt: skip
    return {
        "version": 2,
        "window": {"end_s": 1_790_000_000 + day * 86400, "end": "2026-..."},
        "rows": 500,
        "decided": True,
        "features": [feature, {**feature, "name": "<b>x2</b>", "drifted": False, "psi": 0.02}],
        "drift_share": 0.5 if drifted else 0.0,
        "prediction_drift": {"test": "chi2", "statistic": 1.0, "drifted": drifted},
        "performance": perf,
        "performance_rows": 100 if perf else 0,
        "alert": drifted,
        "reasons": ["1 of 2 features drift: x1"] if drifted else [],
    }


def report(task: str, *, diagnostics: bool = True, monitor: bool = True) -> dict[str, Any]:
    versions = [_version(2), _version(1)]
    if task == "classification":
        d: dict[str, Any] = {
            "task": task, "rows": 10, "classes": ["no", "yes"], "confusion": [[5, 1], [0, 4]],
            "roc": [{"class": "yes", "auc": 0.9, "x": [0, 0.2, 1], "y": [0, 0.8, 1]}],
            "pr": [{"class": "yes", "average_precision": 0.8, "prevalence": 0.4, "x": [0, 1], "y": [1, 0.4]}],
        }  # fmt: skip
    else:
        d = {
            "task": task, "rows": 3,
            "residuals": {"predicted": [1.0, 2.0, 3.0], "actual": [1.5, 1.5, 3.5], "mean": 0.1, "std": 0.5,
                          "histogram": {"counts": [1, 2], "edges": [-1.0, 0.0, 1.0]}},
        }  # fmt: skip
    d["importance"] = {"metric": "f1", "repeats": 5, "rows": 10,
                       "features": [{"feature": "x1", "mean": 0.2, "std": 0.01},
                                    {"feature": "x2", "mean": -0.01, "std": 0.02}]}  # fmt: skip
    windows = [_window(i, i % 3 == 0, {"accuracy": 0.9 - i / 100} if i % 2 else None) for i in range(6)]
    return {
        "name": "demo",
        "version": 2,
        "champion": 2,
        "generated_at": "2026-11-27T10:00:00+00:00",
        "current": versions[0],
        "task": task,
        "metric": "f1",
        "diagnostics": d if diagnostics else None,
        "versions": versions,
        "history": [1, 2],
        "monitor": windows if monitor else [],
        "links": {"mlflow": "http://mlflow:5000", "experiment": "3", "airflow": "", "tracking_uri": "x"},
    }


def _sections(html: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="(\w+)"><h2>[^<]*</h2>(.*?)</section>', html, flags=re.S))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_section_draws_for_both_tasks(task: str) -> None:
    html = render(report(task))
    sections = _sections(html)
    assert list(sections) == [sid for sid, _, _ in SECTIONS]
    for sid, body in sections.items():
        assert "class='muted'>no " not in body, sid
    assert ("confusion matrix" in html) == (task == "classification")
    assert ("residuals vs predicted" in html) == (task == "regression")
    assert "6 monitor windows" in sections["drift"]
    assert "live accuracy" in sections["live"]
    assert "v1 → v2" in sections["history"]


def test_the_page_fetches_nothing_and_escapes_what_it_shows() -> None:
    html = render(report("classification"))
    assert CSP in html and "default-src 'none'" in CSP
    assert "<script" not in html and "<b>x2</b>" not in html and "&lt;b&gt;x2&lt;/b&gt;" in html
    assert "href='http://mlflow:5000/#/experiments/3/runs/run2'" in html
    assert "href='/dags/demo__train/runs/manual__2'" in html  # the Airflow view links on its own server


def test_a_version_with_nothing_recorded_says_what_would_fill_each_section() -> None:
    sections = _sections(render(report("regression", diagnostics=False, monitor=False)))
    assert "retrain it" in sections["evaluation"] and "retrain it" in sections["importance"]
    assert "airfoil monitor demo" in sections["drift"]
    assert "monitor.labels" in sections["live"]


def test_without_ui_urls_the_links_are_ids() -> None:
    r = report("classification")
    r["links"] = {"mlflow": None, "experiment": None, "airflow": None, "tracking_uri": "sqlite:///x"}
    summary = _sections(render(r))["summary"]
    assert "<a " not in summary and "run2" in summary and "manual__2" in summary


def test_the_models_view_lists_every_pipeline() -> None:
    r = report("classification")
    item = {"name": "demo", "champion": 2, "versions": r["versions"], "history": [1, 2],
            "monitor": r["monitor"][-1], "links": r["links"]}  # fmt: skip
    html = render_models([item, {**item, "name": "idle", "champion": None, "monitor": None}], "ada")
    assert "signed in as ada" in html and "2 pipeline(s)" in html
    assert "href='models/demo/report'" in html and "champion v2" in html
    assert "f1 0.9200" in html and "no champion yet" in html and "not monitored yet" in html
    assert "<span class='ok'>no drift</span>" in html
    assert "No trained pipelines yet" in render_models([], "ada")


def test_ticks_are_round_and_cover_the_range() -> None:
    assert svg.ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.ticks(0.93, 0.97) == [0.93, 0.94, 0.95, 0.96, 0.97]
    assert svg.ticks(1, 1) == [1]


def test_a_chart_skips_missing_points_and_a_flat_range_still_draws() -> None:
    c = svg.Chart("t", (0, 2), (0.5, 0.5), "x", "y")  # one value only: widened, not divided by zero
    c.line([0, 1, 2], [0.5, None, 0.5], "#000", "a")
    c.points([0, 1, 2], [0.5, float("nan"), None], "#000")
    out = c.render()
    assert out.count("<circle") == 1 and "points=" in out and "nan" not in out.lower()
