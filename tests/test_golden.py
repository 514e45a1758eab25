"""Golden specs: each tests/specs/NAME.net has the diagnostics it must produce in NAME.expected.

Rewrite them after a deliberate change with ``pytest tests/test_golden.py --update-golden``
and review the diff.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import netc
from conftest import GOLDEN


def render(diagnostics) -> str:
    lines = []
    for d in diagnostics:
        lines.append(f"{d.line}:{d.column}-{d.end_line}:{d.end_column} {d.severity}[{d.code}] {d.message}")
        if d.hint:
            lines.append(f"    hint: {d.hint}")
    return "\n".join(lines) + ("\n" if lines else "")


@pytest.mark.parametrize("spec", sorted(GOLDEN.glob("*.net")), ids=lambda p: p.stem)
def test_golden_diagnostics(spec: Path, update_golden: bool):
    expected_path = spec.with_suffix(".expected")
    actual = render(netc.check_file(spec))
    if update_golden:
        expected_path.write_text(actual, encoding="utf-8")
    assert expected_path.exists(), f"run pytest --update-golden to create {expected_path.name}"
    assert actual == expected_path.read_text(encoding="utf-8")


def test_golden_specs_cover_every_error_family():
    """The golden files together exercise every diagnostic code that a spec can trigger."""
    seen = set()
    for path in GOLDEN.glob("*.expected"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "[NC" in line:
                seen.add(line.split("[", 1)[1].split("]", 1)[0])
    must = {"NC001", "NC002", "NC003", "NC004", "NC101", "NC102", "NC103", "NC104", "NC105", "NC106",
            "NC201", "NC202", "NC203", "NC204", "NC205", "NC207", "NC301", "NC302", "NC303", "NC304",
            "NC305", "NC306"}
    assert must <= seen, f"no golden spec produces {sorted(must - seen)}"
