"""Rendering diagnostics and summaries for people (text) and programs (JSON).

Only the CLI and the language server render; stages return data.
"""
from __future__ import annotations

import json
from typing import Iterable

from netc.diagnostics import Diagnostic


def diagnostic_text(d: Diagnostic, source: str | None) -> str:
    """``file:line:col: error[NC102]: message``, the source line with a caret, then the hint."""
    lines = [f"{d.file}:{d.line}:{d.column}: {d.severity}[{d.code}]: {d.message}"]
    if source is not None:
        source_lines = source.splitlines()
        if 1 <= d.line <= len(source_lines):
            text = source_lines[d.line - 1].replace("\t", " ")
            end = d.end_column if d.end_line == d.line else len(text) + 1
            width = max(1, min(end, len(text) + 1) - d.column)
            gutter = f"{d.line:>4} | "
            lines.append(gutter + text)
            lines.append(" " * (len(gutter) + d.column - 1) + "^" * width)
    if d.hint:
        lines.append(f"  = hint: {d.hint}")
    return "\n".join(lines)


def diagnostics_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_dict() for d in diagnostics], indent=2)


def shape_text(shape) -> str:
    if shape is None:
        return "?"
    dims = ["None"] + ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ")"
