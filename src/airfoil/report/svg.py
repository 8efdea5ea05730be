"""Small inline SVG charts for the report: lines and points, bars, histograms, a confusion matrix and a
heat map. Plain strings, no fonts to embed, no scripts: a chart of a few hundred points is a few KB."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TypeGuard

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 26, 40
SVG_NS = "http://www.w3.org/2000/svg"


def ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 12) for i in range(int((hi - first) / step + 1e-9) + 1)]


def fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3g}"


@dataclass
class Chart:
    """One plot area: data ranges mapped to pixels; axes, grid and labels drawn on `render()`."""

    title: str
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    x_label: str = ""
    y_label: str = ""
    width: int = 420
    height: int = 300
    x_ticks: Sequence[tuple[float, str]] | None = None
    parts: list[str] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    legend_at: str = "top-right"  # or bottom-right, bottom-left: wherever the data is not

    def __post_init__(self) -> None:
        self.x_range = _widen(self.x_range)
        self.y_range = _widen(self.y_range)

    def x(self, v: float) -> float:
        lo, hi = self.x_range
        return LEFT + (v - lo) / (hi - lo) * (self.width - LEFT - RIGHT)

    def y(self, v: float) -> float:
        lo, hi = self.y_range
        return self.height - BOTTOM - (v - lo) / (hi - lo) * (self.height - TOP - BOTTOM)

    def line(
        self, xs: Sequence[float], ys: Sequence[float | None], color: str, label: str = "", dash: bool = False
    ) -> None:
        pts = " ".join(f"{self.x(a):.1f},{self.y(b):.1f}" for a, b in zip(xs, ys, strict=True) if _ok(b))
        style = ' stroke-dasharray="4 3"' if dash else ""
        self.parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="1.6"{style} points="{pts}"/>'
        )
        if label:
            self.legend.append((label, color))

    def points(
        self, xs: Sequence[float], ys: Sequence[float | None], color: str, label: str = "", r: float = 2.2
    ) -> None:
        for a, b in zip(xs, ys, strict=True):
            if _ok(b):
                self.parts.append(
                    f'<circle cx="{self.x(a):.1f}" cy="{self.y(b):.1f}" r="{r}" fill="{color}" '
                    f'fill-opacity="0.6"><title>{fmt(a)}, {fmt(b)}</title></circle>'
                )
        if label:
            self.legend.append((label, color))

    def hline(self, v: float, color: str, label: str = "") -> None:
        lo, hi = self.x_range
        self.line([lo, hi], [v, v], color, label, dash=True)

    def render(self) -> str:
        w, h = self.width, self.height
        out = [
            f'<svg xmlns="{SVG_NS}" role="img" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" class="chart"><title>{escape(self.title)}</title>',
            f'<text x="{w / 2}" y="16" class="t">{escape(self.title)}</text>',
        ]
        xt = self.x_ticks if self.x_ticks is not None else [(v, fmt(v)) for v in ticks(*self.x_range)]
        for v, text in xt:
            px = self.x(v)
            out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{TOP}" y2="{h - BOTTOM}" class="g"/>')
            out.append(f'<text x="{px:.1f}" y="{h - BOTTOM + 14}" class="xt">{escape(text)}</text>')
        for v in ticks(*self.y_range):
            py = self.y(v)
            out.append(f'<line x1="{LEFT}" x2="{w - RIGHT}" y1="{py:.1f}" y2="{py:.1f}" class="g"/>')
            out.append(f'<text x="{LEFT - 4}" y="{py + 4:.1f}" class="yt">{fmt(v)}</text>')
        out.append(
            f'<rect x="{LEFT}" y="{TOP}" width="{w - LEFT - RIGHT}" height="{h - TOP - BOTTOM}" class="f"/>'
        )
        out += self.parts
        out.append(f'<text x="{(LEFT + w - RIGHT) / 2}" y="{h - 6}" class="xl">{escape(self.x_label)}</text>')
        out.append(
            f'<text transform="translate(13 {(TOP + h - BOTTOM) / 2}) rotate(-90)" class="xl">'
            f"{escape(self.y_label)}</text>"
        )
        shown = self.legend[:8]
        lx = LEFT + 8 if self.legend_at.endswith("left") else w - RIGHT - 128
        top = TOP + 12 if self.legend_at.startswith("top") else h - BOTTOM - 8 - 14 * (len(shown) - 1)
        for i, (label, color) in enumerate(shown):
            ly = top + 14 * i
            out.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="10" fill="{color}"/>')
            out.append(f'<text x="{lx + 14}" y="{ly + 1}" class="lg">{escape(label[:22])}</text>')
        out.append("</svg>")
        return "".join(out)


def bars(
    title: str, labels: Sequence[str], values: Sequence[float], errors: Sequence[float], unit: str
) -> str:
    """Horizontal bars, largest first as given, with ± error whiskers (permutation importance)."""
    row, left, width = 18, 170, 560
    height = TOP + row * len(labels) + BOTTOM
    hi = max([v + e for v, e in zip(values, errors, strict=True)] + [1e-12])
    lo = min([v - e for v, e in zip(values, errors, strict=True)] + [0.0])
    span = width - RIGHT - left

    def px(v: float) -> float:
        return left + (v - lo) / (hi - lo) * span

    out = _open(width, height, title)
    for v in ticks(lo, hi):
        out.append(f'<line x1="{px(v):.1f}" x2="{px(v):.1f}" y1="{TOP}" y2="{height - BOTTOM}" class="g"/>')
        out.append(_text(px(v), height - BOTTOM + 14, "xt", fmt(v)))
    for i, (label, v, e) in enumerate(zip(labels, values, errors, strict=True)):
        y = TOP + i * row
        x0, x1 = sorted((px(0), px(v)))
        out.append(_text(left - 6, y + 13, "yt", label[:26]))
        out.append(
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 0.5):.1f}" height="{row - 6}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {fmt(v)} ± {fmt(e)}</title></rect>'
        )
        out.append(
            f'<line x1="{px(v - e):.1f}" x2="{px(v + e):.1f}" y1="{y + 9}" y2="{y + 9}" stroke="#333"/>'
        )
    out.append(_text((left + width) / 2, height - 6, "xl", unit) + "</svg>")
    return "".join(out)


def histogram(title: str, counts: Sequence[int], edges: Sequence[float], x_label: str) -> str:
    chart = Chart(title, (edges[0], edges[-1]), (0, max([*counts, 1])), x_label, "rows")
    for c, a, b in zip(counts, edges, edges[1:], strict=False):
        x0, x1, y0 = chart.x(a), chart.x(b), chart.y(c)
        chart.parts.append(
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
            f'height="{chart.y(0) - y0:.1f}" fill="{PALETTE[0]}">'
            f"<title>{fmt(a)} to {fmt(b)}: {c}</title></rect>"
        )
    return chart.render()


def matrix(title: str, labels: Sequence[str], counts: Sequence[Sequence[int]]) -> str:
    """A confusion matrix: rows are the true class, columns the predicted one; darker is more."""
    n, cell, left, top = len(labels), min(56, max(16, 360 // max(len(labels), 1))), 110, 44
    size = max(left + n * cell + 12, 8 * len(title) + 20)
    peak = max([max(r) for r in counts] + [1])
    out = _open(size, top + n * cell + 30, title)
    out.append(_text(left + n * cell / 2, 32, "xl", "predicted"))
    for i, row in enumerate(counts):
        out.append(_text(left - 6, top + i * cell + cell / 2 + 4, "yt", labels[i][:14]))
        for j, c in enumerate(row):
            shade = c / peak
            ink = "#fff" if shade > 0.5 else "#111"
            x, y = left + j * cell, top + i * cell
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="rgba(31,119,180,{0.08 + 0.92 * shade:.2f})">'
                f"<title>true {escape(labels[i])}, predicted {escape(labels[j])}: {c}</title></rect>"
                f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" class="c" fill="{ink}">{c}</text>'
            )
    for j, label in enumerate(labels):
        out.append(_text(left + j * cell + cell / 2, top + n * cell + 14, "xt", label[:10]))
    out.append(
        f'<text transform="translate(12 {top + n * cell / 2}) rotate(-90)" class="xl">true</text></svg>'
    )
    return "".join(out)


def heatmap(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    marks: Sequence[Sequence[bool]],
    *,
    scale: float,
) -> str:
    """Rows (features) by columns (monitor windows): colour is the value up to `scale`; a drifted cell
    is outlined in dark red. `None` is a window that did not judge the feature."""
    cw = max(4, min(24, 640 // max(len(columns), 1)))
    rh, left, top = 14, 150, 28
    width, height = max(left + cw * len(columns) + 12, 8 * len(title)), top + rh * len(rows) + 40
    out = _open(width, height, title)
    for i, name in enumerate(rows):
        y = top + i * rh
        out.append(_text(left - 6, y + 11, "yt", name[:22]))
        for j, v in enumerate(values[i]):
            fill = "#eee" if v is None else f"rgba(214,39,40,{min(v / scale, 1.0) * 0.85 + 0.05:.2f})"
            edge = ' stroke="#7a0000" stroke-width="1.2"' if marks[i][j] else ""
            tip = f"{escape(name)} · {escape(columns[j])}: {'—' if v is None else fmt(v)}"
            tip += " (drifted)" if marks[i][j] else ""
            out.append(
                f'<rect x="{left + j * cw}" y="{y}" width="{cw - 1}" height="{rh - 1}" fill="{fill}"{edge}>'
                f"<title>{tip}</title></rect>"
            )
    for j in range(0, len(columns), max(1, len(columns) // 5)):
        out.append(_text(left + j * cw, top + rh * len(rows) + 14, "xs", columns[j][:10]))
    out.append("</svg>")
    return "".join(out)


def padded(values: Sequence[float], share: float = 0.06) -> tuple[float, float]:
    """The range of `values` with a margin, so points do not sit on the frame."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * share or abs(hi) * share or share
    return (lo - pad, hi + pad)


def _open(width: float, height: float, title: str) -> list[str]:
    """An SVG's opening tag, its accessible title and the visible one."""
    return [
        f'<svg xmlns="{SVG_NS}" role="img" width="{width}" height="{height}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2}" y="16" class="t">{escape(title)}</text>',
    ]


def _text(x: float, y: float, cls: str, text: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}">{escape(text)}</text>'


def _widen(r: tuple[float, float]) -> tuple[float, float]:
    lo, hi = r
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return (0.0, 1.0)
    if hi <= lo:
        pad = abs(lo) * 0.05 or 0.5
        return (lo - pad, hi + pad)
    return (lo, hi)


def _ok(v: float | None) -> TypeGuard[float]:
    return v is not None and math.isfinite(v)
