"""The report as one self-contained HTML page: inline CSS and SVG, no script, and a Content Security
Policy that forbids every fetch, so the file opens the same from a disk, a mail or the API."""

from __future__ import annotations

from html import escape
from typing import Any

from airfoil.report import sections

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;
background:#f6f7f9}
header{background:#0f2b46;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.85}main{padding:8px 28px 40px;max-width:1180px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:16px 0;padding:14px 18px}
h2{font-size:17px;margin:0 0 10px}table{border-collapse:collapse;margin:6px 0}
td,th{border-bottom:1px solid #e5e8ec;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#16794c;font-weight:600}.bad{color:#b42318;font-weight:600}.muted{color:#6b7280}
.charts{display:flex;flex-wrap:wrap;gap:14px}.chart{background:#fff}
.chart text{font-size:11px;fill:#333}.chart .t{font-size:13px;font-weight:600;text-anchor:middle}
.chart .xt{text-anchor:middle}.chart .xs{font-size:10px}.chart .yt{text-anchor:end}
.chart .xl{text-anchor:middle;fill:#555}.chart .c{text-anchor:middle;font-size:12px}
.chart .g{stroke:#eceff3}.chart .f{fill:none;stroke:#b8bec7}.chart .lg{font-size:11px}
.tag{display:inline-block;border-radius:9px;padding:0 8px;font-size:12px;background:#e8eef7;color:#1d2433}
.tag.champion{background:#d1fadf;color:#05603a}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:0}
dt{color:#6b7280}dd{margin:0}code{font-size:12px;background:#f0f2f5;padding:0 4px;border-radius:3px}
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

SECTIONS = (
    ("summary", "Summary", sections.summary),
    ("metrics", "Test metrics", sections.metrics),
    ("evaluation", "Evaluation on the test split", sections.evaluation),
    ("importance", "Feature importance", sections.importance),
    ("history", "Versions and champion history", sections.history),
    ("drift", "Drift per feature over time", sections.drift),
    ("live", "Live metrics over time", sections.live),
)


def render(report: dict[str, Any]) -> str:
    """The whole page for one `report.gather` result."""
    name, version = report["name"], report["version"]
    role = "champion" if report["champion"] == version else "not the champion"
    body = "".join(
        f'<section id="{sid}"><h2>{escape(title)}</h2>{draw(report)}</section>'
        for sid, title, draw in SECTIONS
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(name)} v{version} · airfoil report</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(name)} v{version} <span class='tag'>{role}</span></h1>"
        f"<p>{escape(report['task'])} · airfoil model report · generated {escape(report['generated_at'])}</p>"
        f"</header><main>{body}</main></body></html>"
    )
