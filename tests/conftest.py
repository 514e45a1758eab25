"""Shared fixtures and the --update-golden flag."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GOLDEN = Path(__file__).resolve().parent / "specs"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/specs/*.expected from the current diagnostics")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


def all_spec_files() -> list[Path]:
    """Every spec of the project: real specs and golden specs."""
    return sorted(SPECS.rglob("*.net")) + sorted(GOLDEN.rglob("*.net"))
