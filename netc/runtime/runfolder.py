"""The run folder, written atomically: complete, or visibly incomplete, never half-written and looking whole.

Everything is written into a hidden sibling ``.<name>.partial/`` holding an
``INCOMPLETE`` marker; only when every file is in place is the marker removed
and the folder renamed to its final name in one step. A run killed at any
moment leaves either nothing under the final name or a complete folder.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

MARKER = "INCOMPLETE"


def default_run_dir(spec_path: str | Path, root: str | Path = "runs") -> Path:
    """``runs/<spec>/<timestamp>/``: one folder per spec file, one per run, sorted by time."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / Path(spec_path).stem / stamp


class RunFolder:
    def __init__(self, final: Path):
        self.final = Path(final)
        self.partial = self.final.parent / f".{self.final.name}.partial"

    @classmethod
    def create(cls, final: str | Path) -> "RunFolder":
        """A fresh partial folder for ``final``; refuses a final folder that already holds files."""
        folder = cls(Path(final))
        if folder.final.exists() and (not folder.final.is_dir() or any(folder.final.iterdir())):
            raise FileExistsError(f"{folder.final} already exists and is not empty")
        if folder.partial.exists():
            shutil.rmtree(folder.partial)
        folder.partial.mkdir(parents=True)
        (folder.partial / MARKER).write_text("this run has not finished; its files may be missing or partial\n",
                                             encoding="utf-8")
        return folder

    def path(self, name: str) -> Path:
        return self.partial / name

    def write_text(self, name: str, text: str) -> None:
        self.path(name).write_text(text, encoding="utf-8")

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")

    def mark_failed(self, reason: str) -> None:
        """Say in the marker why the run stopped; the folder stays partial."""
        if self.partial.exists():
            self.path(MARKER).write_text(f"this run failed: {reason}\n", encoding="utf-8")

    def finish(self) -> Path:
        """Make the folder complete in one rename; a taken name gets a suffix (-2, -3, ...)."""
        self.path(MARKER).unlink()
        self.final = rename_to_free_name(self.partial, self.final)
        return self.final


def rename_to_free_name(partial: Path, final: Path) -> Path:
    """Rename ``partial`` to ``final`` in one step, or to ``final-2``, ``final-3``, ... when that name is taken.

    Returns the name it got.
    """
    target, n = final, 1
    while True:
        try:
            os.rename(partial, target)  # fails, atomically, when target is a non-empty folder
            return target
        except OSError:
            if not target.exists():
                raise
            n += 1
            target = final.with_name(f"{final.name}-{n}")


def json_safe(value: Any) -> Any:
    """Plain JSON: numpy scalars as numbers, NaN and infinities as null (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()  # a numpy scalar
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None
