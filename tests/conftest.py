"""Shared fixtures and the --update-golden flag."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# generated data sets (MNIST-1D) are cached for this test session, shared by its subprocesses, not in ~/.cache
os.environ.setdefault("NETC_CACHE_DIR", tempfile.mkdtemp(prefix="netc-test-cache-"))

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


def spec_models() -> list[tuple[Path, str]]:
    """(path, model name) for every model of the project's specs and of one golden spec."""
    from netc.compiler.parser import parse

    found = []
    for path in sorted(SPECS.rglob("*.net")) + [GOLDEN / "clean_rank_and_flow.net"]:
        module, _ = parse(path.read_text(encoding="utf-8"), str(path))
        found += [(path, m.name) for m in module.of_kind("model")]
    return found


def spec_model_ids(models: list[tuple[Path, str]]) -> list[str]:
    """Test ids for ``spec_models()``: ``folder/file.net:Model``."""
    return [f"{path.relative_to(path.parent.parent)}:{model}" for path, model in models]


def tiny_network(epochs: int = 2, extra_settings: str = "") -> str:
    """``model Tiny``, a small Conv1D network on 300 MNIST-1D samples, and its train block: seconds to train.

    ``extra_settings`` (whole lines) go at the end of the train block.
    """
    return f"""model Tiny(width: int = 4) {{
    input x: (40, 1)
    Conv1D(width, 5, padding="same")
    ReLU()
    GlobalAveragePooling1D()
    Dense(10, activation="softmax")
}}

train Tiny(lr: float = 1e-2) {{
    data mnist1d(num_samples=300)
    test_data mnist1d(split="test", num_samples=300)
    optimizer Adam(learning_rate=lr)
    loss "sparse_categorical_crossentropy"
    metrics ["accuracy"]
    epochs {epochs}
    batch_size 32
    validation_split 0.2
    seed 1
{extra_settings}}}
"""


def write_spec(folder: Path, text: str, name: str = "tiny.net") -> Path:
    """``text`` written to ``folder/name``."""
    spec = folder / name
    spec.write_text(text, encoding="utf-8")
    return spec
