"""Profiles count rows in the reference's bins; merging is addition; JSON keeps them whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airfoil.monitor.profile import EXACT_ROWS, NUMERIC_BINS, PROFILE_ROWS, Bins, Profile, merge
from airfoil.monitor.reference import Reference, build_reference, empty_like
from tests.unit.monitor.monitor_support import CITIES, reference, window_values


def test_numeric_bins_are_quantiles_and_open_ended() -> None:
    x = np.arange(1000, dtype=float)
    bins = Bins.fit("x", "numeric", x)
    assert len(bins.edges) == NUMERIC_BINS - 1 and bins.size == NUMERIC_BINS
    counted = bins.count(x)
    assert counted.counts.tolist() == [50] * NUMERIC_BINS  # 5% of the reference in each bin
    beyond = bins.count(np.array([-1e9, 1e9, np.nan]))
    assert beyond.counts[0] == 1 and beyond.counts[-1] == 1 and beyond.nulls == 1
    assert bins.labels()[0].startswith("<=") and bins.labels()[-1].startswith(">")


def test_categories_keep_the_top_ones_and_count_the_rest_as_other() -> None:
    bins = Bins.fit("c", "categorical", ["a"] * 5 + ["b"] * 3 + [None])
    assert bins.categories == ["a", "b"] and bins.distinct == 2
    counted = bins.count(np.array(["a", "z", None, "b", "a"], dtype=object))
    assert counted.counts.tolist() == [2, 1, 1] and counted.nulls == 1


def test_labels_compare_as_text_whatever_their_type() -> None:
    bins = Bins.fit("p", "categorical", np.array([True, False, True]))
    assert bins.categories == ["true", "false"]
    assert bins.count([1.0, True, "true"]).counts.tolist() == [1, 0, 2]  # 1.0 -> "1": other


def test_merging_profiles_is_adding_their_counts() -> None:
    ref = reference()
    rng = np.random.default_rng(1)
    values, predictions = window_values(3000, rng)
    whole = ref.profile_chunk(values, predictions)
    parts = [
        ref.profile_chunk({k: v[i : i + 1000] for k, v in values.items()}, predictions[i : i + 1000])
        for i in range(0, 3000, 1000)
    ]
    merged = merge(parts)
    assert merged is not None and merged.rows == whole.rows == 3000
    for name, h in whole.columns.items():
        assert merged.columns[name].counts.tolist() == h.counts.tolist()
        assert merged.columns[name].nulls == h.nulls
    assert np.isclose(merged.columns["x0"].total, whole.columns["x0"].total)
    assert merged.columns["x0"].stats()["min"] == whole.columns["x0"].stats()["min"]
    assert merged.prediction is not None and whole.prediction is not None
    assert merged.prediction.counts.tolist() == whole.prediction.counts.tolist()


def test_small_windows_keep_raw_values_until_they_grow() -> None:
    ref = reference()
    rng = np.random.default_rng(2)
    small = ref.profile_chunk(*window_values(EXACT_ROWS // 2, rng))
    assert small.columns["x0"].values is not None and len(small.columns["x0"].values) == EXACT_ROWS // 2
    both = small + ref.profile_chunk(*window_values(EXACT_ROWS // 2, rng))
    assert both.columns["x0"].values is not None and len(both.columns["x0"].values) == EXACT_ROWS
    grown = both + ref.profile_chunk(*window_values(1, rng))
    assert grown.columns["x0"].values is None and grown.columns["x0"].n == EXACT_ROWS + 1


def test_large_chunks_are_counted_on_a_systematic_sample() -> None:
    ref = reference()
    values, predictions = window_values(PROFILE_ROWS * 5, np.random.default_rng(3))
    profile = ref.profile_chunk(values, predictions, rejected=7)
    assert profile.rows == PROFILE_ROWS * 5 and profile.rejected == 7
    assert profile.columns["x0"].n == PROFILE_ROWS
    # the sample's shares stay those of the chunk
    share = profile.columns["city"].counts[: len(CITIES)] / PROFILE_ROWS
    assert np.allclose(share, [0.5, 0.3, 0.2], atol=0.03)


def test_profiles_and_references_survive_json() -> None:
    ref = reference()
    again = Reference.loads(ref.dumps())
    assert again.bins["x1"].edges.tolist() == ref.bins["x1"].edges.tolist()
    assert again.bins["city"].categories == ref.bins["city"].categories
    assert again.profile.columns["x1"].values is not None  # the reference's sample for exact tests
    assert len(again.profile.columns["x1"].values) == 1000
    profile = ref.profile_chunk(*window_values(50, np.random.default_rng(4)))
    back = Profile.from_json(profile.dumps())
    assert back.to_json() == profile.to_json()
    assert empty_like(ref).rows == 0


def test_reference_keeps_statistics_of_the_train_split() -> None:
    train = pd.DataFrame({"a": [1.0, 2.0, 3.0, None], "b": ["x", "y", None, "x"]})
    columns = [{"name": "a", "type": "number"}, {"name": "b", "type": "string"}]
    ref = build_reference(train, columns, "regression", np.array([1.5, 2.5]))
    a = ref.profile.columns["a"]
    assert a.nulls == 1 and a.n == 3
    assert a.stats() == pytest.approx({"mean": 2.0, "std": np.sqrt(2 / 3), "min": 1.0, "max": 3.0})
    assert ref.profile.columns["b"].nulls == 1
    assert ref.prediction_bins.kind == "numeric" and ref.profile.rows == 4
