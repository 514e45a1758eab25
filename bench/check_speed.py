"""How fast netc checks specs, against importing Keras (what any Python-side check would pay).

- ``netc check specs/`` as a fresh process against ``python -c "import keras"``, same run (target ratio <= 0.05);
- in-process check of the largest spec, in ms per 200 statements (target <= 10 ms);
- check time against spec size up to 1 MB (target: linear, 1 MB under 1 s).

Run: python bench/check_speed.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import process_seconds, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def generated_spec(statements: int) -> str:
    """A realistic flat spec: conv blocks with BN, repeated."""
    lines = ["model Big(width: int = 16) {", "    input x: (32, 32, 3)"]
    pattern = ['    Conv2D(width, 3, padding="same", use_bias=false)', "    BatchNormalization()", "    ReLU()"]
    for i in range(statements):
        lines.append(pattern[i % 3])
    lines += ["    GlobalAveragePooling2D()", '    Dense(10, activation="softmax")', "}"]
    return "\n".join(lines) + "\n"


def _timed(function, text: str) -> float:
    from netc.compiler import check

    check._CLEAN.clear()  # each run from scratch: no layer results from the run before
    start = time.perf_counter()
    function(text, "big.net")
    return time.perf_counter() - start


def main() -> None:
    from netc.compiler.pipeline import analyze
    from netc.compiler.parser import _lark

    _lark()
    netc_cmd = [sys.executable, "-m", "netc", "check", str(ROOT / "specs")]
    keras_cmd = [sys.executable, "-c", "import keras"]
    process_seconds(netc_cmd, 1)  # warm the grammar cache and the OS file cache
    netc_s = process_seconds(netc_cmd, 5)
    keras_s = process_seconds(keras_cmd, 3)

    specs = sorted((ROOT / "specs").rglob("*.net"), key=lambda p: p.stat().st_size)
    largest = specs[-1]
    text = largest.read_text(encoding="utf-8")
    statements = sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))
    largest_ms = min(_timed(analyze, text) for _ in range(7)) * 1000

    rows = []
    for n in (200, 2_000, 10_000, 30_000):
        spec = generated_spec(n)
        assert not analyze(spec, "big.net").diagnostics
        seconds = min(_timed(analyze, spec) for _ in range(3))  # the least disturbed of three runs
        rows.append((n, len(spec), seconds))

    body = [
        "### netc check (fresh process) vs import keras",
        "",
        "| command | median s |",
        "|---|---|",
        f"| `netc check specs/` | {netc_s:.3f} |",
        f"| `python -c \"import keras\"` | {keras_s:.3f} |",
        f"| **ratio** (target <= 0.05) | **{netc_s / keras_s:.3f}** |",
        "",
        "### In-process check of the largest spec",
        "",
        f"`{largest.relative_to(ROOT)}`: {statements} lines, {largest_ms:.1f} ms, fastest of 7 runs from scratch "
        f"({largest_ms / max(statements, 1) * 200:.1f} ms per 200 statements; target <= 10).",
        "",
        "### Check time against spec size",
        "",
        "Fastest of three runs each, every run from scratch (only the compiled grammar is kept between runs).",
        "",
        "| statements | bytes | seconds | us per byte |",
        "|---|---|---|---|",
    ] + [f"| {n:,} | {size:,} | {s:.3f} | {s / size * 1e6:.2f} |" for n, size, s in rows]
    per_byte = rows[-1][2] / rows[-1][1]
    body += ["", f"Extrapolated 1 MB check: {per_byte * 1_000_000:.2f} s (target < 1 s)."]
    write_section("Checking speed (issue 2)", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
