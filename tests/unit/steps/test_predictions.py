"""The store's row shape (airfoil.steps.predictions): predictions, reasons, probabilities as JSON,
and the way back to typed values."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from airfoil.steps.checks import check_rows
from airfoil.steps.predictions import decode, label_text, prediction_table, probabilities_json
from airfoil.store.schema import PREDICTION_COLUMNS
from tests.unit.steps.test_checks import COLUMNS, RULES, _table


def _checked(a: list[Any]) -> Any:
    return check_rows(_table(a), COLUMNS, RULES)


def test_prediction_table_with_rejected_rows() -> None:
    checked = _checked([1.0, "abc", 3.0, -1.0])
    labels = np.array(["no", "yes"])
    proba = np.array([[0.75, 0.25], [0.125, 0.875]])
    table = prediction_table(
        checked,
        labels,
        proba,
        classes=["no", "yes"],
        row_index=np.arange(10, 14),
        row_id=pa.array(["r10", "r11", "r12", "r13"]),
        model_version=7,
    )
    assert table.column_names == list(PREDICTION_COLUMNS)
    rows = table.to_pylist()
    assert [r["row_index"] for r in rows] == [10, 11, 12, 13]
    assert [r["row_id"] for r in rows] == ["r10", "r11", "r12", "r13"]
    assert [r["model_version"] for r in rows] == [7] * 4
    assert [r["prediction"] for r in rows] == ["no", None, "yes", None]
    assert [r["rejected"] for r in rows] == [
        None,
        "a: 'abc' is not a number",
        None,
        "a: -1 is below the minimum 0",
    ]
    assert rows[1]["probabilities"] is None and rows[3]["probabilities"] is None
    assert json.loads(rows[0]["probabilities"]) == {"no": 0.75, "yes": 0.25}
    assert json.loads(rows[2]["probabilities"]) == {"no": 0.125, "yes": 0.875}


def test_prediction_table_all_good_regression_without_ids() -> None:
    checked = _checked([1.0, 2.0])
    table = prediction_table(checked, np.array([0.5, 1.5]), None, classes=[], row_index=np.arange(2))
    rows = table.to_pylist()
    assert [r["prediction"] for r in rows] == ["0.5", "1.5"]
    assert all(r["probabilities"] is None and r["rejected"] is None for r in rows)
    assert all(r["row_id"] is None and r["model_version"] is None for r in rows)
    assert table.schema.field("model_version").type == pa.int64()


def test_prediction_table_every_row_rejected() -> None:
    checked = _checked(["?", "!"])
    table = prediction_table(
        checked, np.array([]), np.zeros((0, 2)), classes=[0, 1], row_index=np.arange(2), row_id=[5, 6]
    )
    rows = table.to_pylist()
    assert [r["prediction"] for r in rows] == [None, None]
    assert [r["probabilities"] for r in rows] == [None, None]
    assert [r["row_id"] for r in rows] == ["5", "6"]  # ids are stored as text
    assert all(r["rejected"] for r in rows)


@pytest.mark.parametrize(
    ("classes", "keys"),
    [(["benign", "malignant"], ["benign", "malignant"]), ([0, 1, 2], ["0", "1", "2"]), ([False, True], None)],
)
def test_probabilities_json(classes: list[Any], keys: list[str] | None) -> None:
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(len(classes)), size=50)
    out = probabilities_json(proba, classes).to_pylist()
    assert len(out) == 50
    expected_keys = keys or [label_text(c) for c in classes]
    for text, row in zip(out, proba, strict=True):
        parsed = json.loads(text)
        assert list(parsed) == expected_keys
        np.testing.assert_allclose([parsed[k] for k in expected_keys], row, rtol=1e-6)


def test_probabilities_json_quotes_labels() -> None:
    (text,) = probabilities_json(np.array([[0.5, 0.5]]), ['say "hi"', "back\\slash"]).to_pylist()
    assert json.loads(text) == {'say "hi"': 0.5, "back\\slash": 0.5}


def test_decode_reads_labels_back_in_their_type() -> None:
    table = prediction_table(
        _checked([1.0, "bad"]),
        np.array([1]),
        np.array([[0.25, 0.75]]),
        classes=[0, 1],
        row_index=np.arange(2),
        row_id=["a", "b"],
    )
    out = decode(table.to_pylist(), [0, 1])
    assert out == [
        {"row": 0, "id": "a", "prediction": 1, "probabilities": {"0": 0.25, "1": 0.75}},
        {"row": 1, "id": "b", "prediction": None, "rejected": "a: 'bad' is not a number"},
    ]
    regression = prediction_table(_checked([1.0]), np.array([2.5]), None, classes=[], row_index=np.arange(1))
    assert decode(regression.to_pylist(), None) == [{"row": 0, "prediction": 2.5}]
