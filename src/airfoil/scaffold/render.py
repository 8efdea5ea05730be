"""An inferred spec as `pipeline.yaml` text: sections in reading order, each after the comments that
say why it is what it is. Sections are blocks; their small mappings and lists are written inline,
one per line (a column's rule, a candidate)."""

from __future__ import annotations

import textwrap
from typing import Any

import yaml

Section = tuple[str, Any, list[str]]  # key, value, why
INLINE = frozenset({"source"})  # sections short enough for one line


def flow(value: Any) -> str:
    """One value as inline YAML (`{a: 1, b: [x, y]}`, a quoted string where YAML needs one)."""
    text = yaml.safe_dump(
        value, default_flow_style=True, width=1_000_000, allow_unicode=True, sort_keys=False
    )
    return text.removesuffix("\n...\n").strip()


def comment(lines: list[str], indent: str = "") -> list[str]:
    out = []
    for line in lines:
        out += textwrap.wrap(
            line,
            100,
            initial_indent=f"{indent}# ",
            subsequent_indent=f"{indent}#   ",
            break_on_hyphens=False,
            break_long_words=False,
        )
    return out


def _entry(key: str, value: Any, indent: str) -> list[str]:
    head = f"{indent}{flow(key)}:"
    section = not indent and key not in INLINE
    if isinstance(value, dict) and value and (section or any(isinstance(v, dict) for v in value.values())):
        return [head] + [line for k, v in value.items() for line in _entry(k, v, indent + "  ")]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [head] + [f"{indent}  - {flow(v)}" for v in value]
    return [f"{head} {flow(value)}"]


def render(header: list[str], sections: list[Section]) -> str:
    """The whole file: the header comment, then each section with its reasons."""
    lines = comment(header)
    for key, value, why in sections:
        if why:
            lines += ["", *comment(why)]
        lines += _entry(key, value, "")
    return "\n".join(lines) + "\n"
