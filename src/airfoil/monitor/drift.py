"""Drift of every input column and of the predictions: a reference against a current profile.

Every column gets PSI and Jensen-Shannon distance. The decision is one test per column:

- `auto` (default): a two-sample test, KS for numeric columns with more than 5 distinct values and
  chi-square (a 2 x k homogeneity test) for categorical and low-cardinality ones. Both treat the
  reference as the sample it is, so their power reflects its size as well as the window's. The
  p-values of all columns are adjusted together (Benjamini-Hochberg FDR by default) and a column
  drifts when its adjusted p-value is under the threshold (0.05) **and** its PSI reaches `min_psi`
  (0.1): on a million-row window every negligible change is "significant", so a change must also
  be large enough to matter.
- `ks` / `chi2`: the test alone (adjusted p-value under the threshold).
- `psi` (0.2) / `js` (0.1): the distance alone, Evidently's choice for large references.

KS on a profile runs on its 20 quantile bins (binning can only lower the statistic: the test errs
on the quiet side); when the window is small enough to carry its raw values (<= 500 rows) it is the
exact two-sample KS against the reference's sample. Chi-square pools the bins where fewer than 5
counts are expected, so a handful of rows cannot look like drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from airfoil.monitor.profile import Bins, Hist
from airfoil.spec.monitor import Drift, FeatureDrift

DEFAULT_THRESHOLDS = {"auto": 0.05, "ks": 0.05, "chi2": 0.05, "psi": 0.2, "js": 0.1}
P_VALUE_TESTS = ("ks", "chi2")
_FLOOR = 1e-4  # empty bins count as this share (as Evidently), so PSI stays finite


@dataclass
class ColumnDrift:
    """One column's verdict, in the shape `airfoil monitor --json` prints."""

    name: str
    type: str  # numeric | categorical
    test: str  # ks | chi2 | psi | js
    statistic: float
    p_value: float | None
    threshold: float
    psi: float
    js: float
    min_psi: float | None = None  # the auto test's effect floor
    p_adjusted: float | None = None
    drifted: bool = False
    rows: int = 0

    def to_json(self) -> dict[str, Any]:
        return {k: _round(v) for k, v in self.__dict__.items()}


def _round(v: Any) -> Any:
    return float(f"{v:.6g}") if isinstance(v, float) else v


def column_drift(bins: Bins, ref: Hist, cur: Hist, rule: FeatureDrift | Drift) -> ColumnDrift:
    """Every statistic of one column and its test's raw result (the decision waits for `decide`)."""
    p, q = _shares(ref), _shares(cur)
    psi = float(np.sum((q - p) * np.log(q / p)))
    js = _js(p, q)
    test = rule.test
    if test == "auto":
        test = "ks" if bins.kind == "numeric" and bins.distinct > 5 else "chi2"
    threshold = rule.threshold or DEFAULT_THRESHOLDS[rule.test]
    out = ColumnDrift(bins.name, bins.kind, test, 0.0, None, threshold, psi, js, rows=cur.n + cur.nulls)
    if rule.test == "auto":
        out.min_psi = getattr(rule, "min_psi", Drift().min_psi)
    if test == "ks":
        out.statistic, out.p_value = _ks(ref, cur)
    elif test == "chi2":
        out.statistic, out.p_value = _chi2(ref, cur)
    else:
        out.statistic = psi if test == "psi" else js
    return out


def decide(columns: list[ColumnDrift], correction: str) -> None:
    """Adjust the p-values of the p-value tests together, then set `drifted` on every column."""
    tested = [c for c in columns if c.p_value is not None]
    adjusted = adjust([c.p_value for c in tested if c.p_value is not None], correction)
    for c, p_adj in zip(tested, adjusted, strict=True):
        c.p_adjusted = p_adj
    for c in columns:
        if c.rows == 0:
            c.drifted = False
        elif c.p_adjusted is not None:
            c.drifted = c.p_adjusted < c.threshold and (c.min_psi is None or c.psi >= c.min_psi)
        else:
            c.drifted = c.statistic >= c.threshold


def adjust(p_values: list[float], correction: str) -> list[float]:
    """p-values adjusted for testing many columns at once: Benjamini-Hochberg (fdr), bonferroni, none."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0 or correction == "none":
        return p.tolist()
    if correction == "bonferroni":
        return np.minimum(p * m, 1.0).tolist()
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]  # monotone from the largest down
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    return out.tolist()


def _shares(h: Hist) -> np.ndarray:
    """Bin shares with nulls as one more bin (a change in the null rate is drift too)."""
    counts = np.append(h.counts, h.nulls).astype(np.float64)
    total = counts.sum()
    shares = counts / total if total else np.full(len(counts), 1.0 / len(counts))
    return np.maximum(shares, _FLOOR)


def _js(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2: 0 for equal distributions, 1 for disjoint ones."""
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    div = 0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q * np.log2(q / m))
    return float(np.sqrt(max(div, 0.0)))


def _ks(ref: Hist, cur: Hist) -> tuple[float, float]:
    """Two-sample KS: exact on raw values when the window kept them, else on the shared bins."""
    from scipy import stats

    n, m = ref.n, cur.n
    if n == 0 or m == 0:
        return 0.0, 1.0
    if cur.values is not None and ref.values is not None and len(ref.values):
        result = stats.ks_2samp(ref.values, cur.values)
        return float(result.statistic), float(result.pvalue)
    d = float(np.max(np.abs(np.cumsum(ref.counts) / n - np.cumsum(cur.counts) / m)))
    en = n * m / (n + m)
    return d, float(stats.kstwo.sf(d, max(round(en), 1)))


def _chi2(ref: Hist, cur: Hist) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x k table of bin counts (nulls as one more bin)."""
    from scipy import stats

    table = np.vstack([np.append(ref.counts, ref.nulls), np.append(cur.counts, cur.nulls)])
    table = _pool_sparse(table[:, table.sum(axis=0) > 0])
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def _pool_sparse(table: np.ndarray) -> np.ndarray:
    """Bins where either row expects fewer than 5 counts, pooled into one: the chi-square
    approximation needs them (3 rows in 10 categories would otherwise look like drift)."""
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / max(table.sum(), 1)
    sparse = (expected < 5).any(axis=0)
    if not sparse.any():
        return table
    pooled = table[:, sparse].sum(axis=1, keepdims=True)
    kept = table[:, ~sparse]
    if kept.shape[1] == 0:
        return pooled
    expected_pooled = np.outer(table.sum(axis=1), pooled.sum(axis=0)) / max(table.sum(), 1)
    if (expected_pooled < 5).any():  # still too thin: fold it into the smallest kept bin
        smallest = int(np.argmin(kept.sum(axis=0)))
        kept = kept.copy()
        kept[:, smallest] += pooled[:, 0]
        return kept
    return np.hstack([kept, pooled])
