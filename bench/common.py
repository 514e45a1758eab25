"""Shared helpers for benchmarks: timing, machine description, and RESULTS.md sections."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import statistics
import subprocess
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def median_seconds(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def process_seconds(argv: list[str], repeats: int = 5, cwd: str | None = None) -> float:
    """Median wall time of a fresh process."""
    return median_seconds(lambda: subprocess.run(argv, check=True, capture_output=True, cwd=cwd), repeats)


def write_section(name: str, body: str) -> None:
    """Replace (or add) the section ``## name`` of RESULTS.md, stamped with the machine and date."""
    stamp = f"_Measured {_dt.date.today().isoformat()} on {machine()}._\n\n"
    section = f"## {name}\n\n{stamp}{body.rstrip()}\n"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n" \
        "Written by the scripts in bench/; ratios compare netc with a peer measured in the same run.\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
