"""The `monitor:` section: defaults, the `{psi: 0.2}` shorthand, labels, metrics and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from airfoil.errors import SpecError
from airfoil.spec.loader import parse_spec
from tests.unit.unit_support import spec_yaml

BATCH = {"mode": "permanent", "batch": {"input": "in/*.csv", "key": "id"}}


def test_defaults() -> None:
    spec = parse_spec(spec_yaml(monitor={"schedule": "@daily"}))
    assert spec.monitor is not None
    drift = spec.monitor.drift
    assert (drift.test, drift.threshold, drift.min_psi, drift.correction) == ("auto", None, 0.1, "fdr")
    assert (drift.drift_share, drift.alert_features, drift.min_rows) == (0.5, 1, 100)
    assert not spec.monitor.retrain_on_drift and spec.monitor.labels is None


def test_drift_shorthand_names_a_test_and_its_threshold() -> None:
    spec = parse_spec(spec_yaml(monitor={"drift": {"psi": 0.25}}))
    assert spec.monitor is not None
    assert (spec.monitor.drift.test, spec.monitor.drift.threshold) == ("psi", 0.25)


def test_labels_paths_resolve_against_the_spec_folder(tmp_path: Path) -> None:
    text = spec_yaml(deploy=BATCH, monitor={"labels": {"path": "labels/*.csv", "key": "id"}})
    spec = parse_spec(text, base_dir=tmp_path)
    assert spec.monitor is not None and spec.monitor.labels is not None
    assert spec.monitor.labels.path == str(tmp_path / "labels" / "*.csv")


@pytest.mark.parametrize(
    ("monitor", "deploy", "message"),
    [
        (
            {"min": {"roc_auc": 0.9}},
            None,
            r"monitor.min.roc_auc \(line \d+\): not a live classification metric",
        ),
        ({"drift": {"test": "wasserstein"}}, None, r"monitor.drift.test"),
        ({"drift": {"correction": "holm"}}, None, r"monitor.drift.correction"),
        ({"labels": {"path": "l.csv", "key": "id"}}, None, r"labels are joined .* set deploy.batch.key"),
        ({"labels": {"key": "id"}}, BATCH, r"give either `path` or `sql`"),
        ({"labels": {"sql": "select 1", "key": "id"}}, BATCH, r"monitor.labels.sql needs `conn`"),
        ({"alert": {"email": {"to": []}}}, None, r"monitor.alert.email.to"),
        ({"retrain": True}, None, r"monitor.retrain"),
    ],
)
def test_bad_monitor_sections_say_what_to_change(monitor: dict, deploy: dict | None, message: str) -> None:
    extra = {"deploy": deploy} if deploy else {}
    with pytest.raises(SpecError, match=message):
        parse_spec(spec_yaml(monitor=monitor, **extra))
