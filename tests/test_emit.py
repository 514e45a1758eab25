"""``netc emit``: readable Keras Python that builds the same model.

For every model of every spec the emitted module is run (``runpy``, never
from netc itself) and its model is compared with ``netc.compile_file``:
parameter count, weight shapes in order, and predictions once the compiled
model's weights are copied in. The text must already be as ``ruff format``
writes it, and ``--all`` must give valid Python for the directives.
"""
from __future__ import annotations

import ast
import runpy
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import netc
from conftest import GOLDEN, SPECS, spec_model_ids, spec_models
from netc.cli import main
from netc.compiler.emit_python import emit_python
from netc.compiler.parser import parse

# Keras converts variables with np.array(variable), which numpy 2 warns about (jax backend).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

# Names that collide with Python and with the emitted code, blocks called in loops and if / elif / else,
# nested residuals and branches, a channels axis that differs between the calls of one block
# (channels_first), labels inside blocks, nested layers, attention and several inputs and outputs.
TORTURE = """
block widen(lambda: int, x: int = lambda * 2) {
    Dense(x, use_bias=false) as x
    BatchNormalization()
}

block norm_any {
    BatchNormalization()
    ReLU()
}

block tower(depth: int, layers: int = 8) {
    repeat i in depth {
        if i == 0 { Conv2D(layers, 3, padding="same") }
        else if i == 1 { SeparableConv2D(layers, 3, padding="same") }
        else { DepthwiseConv2D(3, padding="same") }
        norm_any()
    }
}

block pair(units: int) {
    Dense(units) as a
    Dense(units) as b
    Add() <- a, b
}

model Torture(range: int = 3, x: int = 4, lambda: float = 0.25, deep: bool = false) {
    data_format channels_first
    input image: (3, 12, 12)
    input seq: (7, 5)
    input vec: x + 2
    from image
    tower(range, layers=x * 2)
    residual {
        residual { Conv2D(x * 2, 1) norm_any() }
        branch Concatenate(axis=channels) {
            path { }
            path { Conv2D(x, 1) }
            path { branch Add() { path { Conv2D(x, 1) } path { Conv2D(x, 3, padding="same") } } }
        }
        Conv2D(x * 2, 1)
    } shortcut {
        if range > 1 { Conv2D(x * 2, 1) } else { }
    }
    if not deep { MaxPooling2D(2) }
    GlobalAveragePooling2D() as pooled
    norm_any()
    widen(x)
    Dropout(lambda)
    repeat 2 { pair(x) } as paired
    from seq
    Bidirectional(LSTM(x, return_sequences=true))
    MultiHeadAttention(2, 4) as attended
    LayerNormalization()
    Conv1D(x, 3, padding="same")
    GlobalAveragePooling1D() as seq_features
    Concatenate() <- paired, seq_features, vec as joined
    Dense(3, activation="softmax") as label
    output label, pooled
}
"""


MODELS = spec_models()
IDS = spec_model_ids(MODELS)


def small(path: Path, model: str) -> dict:
    """Smaller values for the parameters that make a model slow to build (the applications' input size)."""
    module, _ = parse(path.read_text(encoding="utf-8"), str(path))
    names = {p.name for m in module.of_kind("model") if m.name == model for p in m.params}
    return {k: v for k, v in (("size", 75), ("classes", 10)) if k in names}


def emitted_code(text: str, file: str, model: str | None = None, params: dict | None = None, **kw) -> str:
    code, diagnostics = emit_python(text, file, model, params or {}, **kw)
    assert code is not None, [d.message for d in diagnostics]
    return code


def build_emitted(code: str, folder: Path):
    script = folder / "emitted.py"
    script.write_text(code, encoding="utf-8")
    return runpy.run_path(str(script), run_name="emitted")["build_model"]()


def sample_inputs(model) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    shapes = [(2,) + tuple(6 if d is None else d for d in tensor.shape[1:]) for tensor in model.inputs]
    return [rng.integers(0, 8, size=shape).astype("float32") for shape in shapes]  # valid token ids too


def assert_same_model(compiled, emitted) -> None:
    import keras

    assert emitted.count_params() == compiled.count_params()
    assert [tuple(w.shape) for w in emitted.weights] == [tuple(w.shape) for w in compiled.weights]
    emitted.set_weights(compiled.get_weights())
    inputs = sample_inputs(compiled)
    inputs = inputs[0] if len(inputs) == 1 else inputs
    expected, got = compiled(inputs, training=False), emitted(inputs, training=False)
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    got = got if isinstance(got, (list, tuple)) else [got]
    assert len(expected) == len(got)
    for a, b in zip(expected, got):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(b), keras.ops.convert_to_numpy(a), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize(("path", "model"), MODELS, ids=IDS)
def test_emitted_model_equals_compiled(path, model, tmp_path):
    keras = pytest.importorskip("keras")
    params = small(path, model)
    code = emitted_code(path.read_text(encoding="utf-8"), str(path), model, params)
    keras.backend.clear_session()
    compiled = netc.compile_file(path, model, **params)
    assert_same_model(compiled, build_emitted(code, tmp_path))


@pytest.mark.parametrize("params", [{}, {"range": 1, "x": 3, "deep": True}])
def test_torture_spec_equals_compiled(params, tmp_path):
    keras = pytest.importorskip("keras")
    assert not netc.check_string(TORTURE)
    code = emitted_code(TORTURE, "torture.net", None, params)
    assert "def channels_axis(x):" in code  # norm_any normalizes a conv output and a dense output
    assert "def widen(h, lambda_: int, x: int | None = None):" in code
    assert "def tower(x, depth: int, layers_: int = 8):" in code
    keras.backend.clear_session()
    compiled = netc.compile_string(TORTURE, **params)
    assert_same_model(compiled, build_emitted(code, tmp_path))


def _ruff_formatted(code: str) -> str:
    done = subprocess.run([shutil.which("ruff"), "format", "--isolated", "-"], input=code, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (pip install ruff)")
@pytest.mark.parametrize("directives", [False, True], ids=["model", "all"])
def test_emitted_code_is_already_ruff_formatted(directives):
    sources = [(path.read_text(encoding="utf-8"), str(path), model) for path, model in MODELS]
    sources.append((TORTURE, "torture.net", None))
    for text, file, model in sources:
        code = emitted_code(text, file, model, directives=directives)
        assert _ruff_formatted(code) == code, f"{file}:{model} is not ruff-formatted"


def test_all_emits_the_directives_as_valid_python():
    path = SPECS / "seed" / "tunable.net"
    code = emitted_code(path.read_text(encoding="utf-8"), str(path), directives=True)
    tree = ast.parse(code)
    compile(tree, "emitted.py", "exec")
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert {"build_model", "load_data", "load_test_data", "train", "evaluate", "objective", "search",
            "ensemble_best"} <= functions
    assert "keras.optimizers.RMSprop(learning_rate=lr)" in code
    assert "optuna.samplers.TPESampler()" in code and "optuna.pruners.HyperbandPruner()" in code
    assert 'trial.suggest_float("lr", 0.0001, 0.01, log=True)' in code
    assert "HistGradientBoostingClassifier(max_iter=300)" in code
    assert 'method="Nelder-Mead"' in code


@pytest.mark.parametrize(("path", "model"), MODELS, ids=IDS)
def test_all_is_valid_python_for_every_spec(path, model):
    code = emitted_code(path.read_text(encoding="utf-8"), str(path), model, directives=True)
    compile(ast.parse(code), "emitted.py", "exec")
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(code))
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(ast.parse(code))
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert "netc" not in imported  # no lock-in


def test_blocks_become_functions_and_repeats_loops():
    path = SPECS / "seed" / "blocks.net"
    sepnet = emitted_code(path.read_text(encoding="utf-8"), str(path), "SepNet")
    assert "def sep_bn(x, filters: int, kernel: int = 3):" in sepnet
    assert "    x = sep_bn(x, 64, kernel=5)\n" in sepnet
    assert "    if strides == 1:\n" in sepnet and "    else:\n" in sepnet
    assert "data_format" not in sepnet  # channels_last is Keras's default
    tunable = emitted_code(path.read_text(encoding="utf-8"), str(path), "Tunable")
    assert "    for _ in range(depth):\n" in tunable and "        if norm:\n" in tunable
    clean = emitted_code((GOLDEN / "clean_rank_and_flow.net").read_text(), "clean.net")
    assert "    for i in range(2):\n        if deep and i == 1:\n" in clean
    assert "    shortcut = x\n" in clean and "    x = layers.Add()([shortcut, x])\n" in clean
    assert "    x = layers.Concatenate(axis=-1)([x, branch_2])\n" in clean
    assert "outputs=[label, score]" in clean and 'name="pooled"' in clean


def test_resolved_axis_and_data_format_under_channels_first():
    path = SPECS / "seed" / "conv_bn.net"
    code = emitted_code(path.read_text(encoding="utf-8"), str(path))
    assert 'layers.Conv2D(32, 3, use_bias=False, data_format="channels_first")' in code
    assert "layers.BatchNormalization(axis=1)" in code  # BatchNormalization() after a conv
    assert "layers.BatchNormalization(axis=-1)" in code  # axis=channels after a Dense
    assert 'layers.Flatten(data_format="channels_first")' in code
    assert "channels_axis" not in code  # every call site agrees


def test_bound_parameters_become_the_defaults(tmp_path):
    keras = pytest.importorskip("keras")
    path = SPECS / "seed" / "dense_bn.net"
    code = emitted_code(path.read_text(encoding="utf-8"), str(path), None, {"width": 16, "depth": 1})
    assert "def build_model(width: int = 16, depth: int = 1, num_class: int = 10)" in code
    keras.backend.clear_session()
    assert_same_model(netc.compile_file(path, width=16, depth=1), build_emitted(code, tmp_path))


def test_emitted_module_runs_as_a_script(tmp_path, capsys):
    pytest.importorskip("keras")
    path = SPECS / "seed" / "dense_bn.net"
    script = tmp_path / "dense_bn.py"
    script.write_text(emitted_code(path.read_text(encoding="utf-8"), str(path)), encoding="utf-8")
    runpy.run_path(str(script), run_name="__main__")  # as ``python dense_bn.py``: builds and summarizes
    out, _ = capsys.readouterr()
    assert "DenseBN" in out and "43,786" in out


def test_cli_emit_prints_writes_and_reports(tmp_path, capsys):
    spec = SPECS / "seed" / "tunable.net"
    assert main(["emit", str(spec), "--param", "width=32"]) == 0
    out, _ = capsys.readouterr()
    assert "def build_model(\n    width: int = 32," in out
    target = tmp_path / "out" / "tunable.py"
    assert main(["emit", str(spec), "--all", "-o", str(target)]) == 0
    capsys.readouterr()
    assert "def search():" in target.read_text(encoding="utf-8")
    broken = tmp_path / "broken.net"
    broken.write_text("model M { input x: (4,) Dense(widht) }")
    assert main(["emit", str(broken)]) == 1
    _, err = capsys.readouterr()
    assert "NC103" in err
    assert main(["emit", str(tmp_path / "missing.net")]) == 2


def _random_statements(seed: int, count: int) -> list:
    """Statements of the shapes the emitter writes, with random names, literals, nesting and lengths."""
    import keyword
    import random

    from netc.pyformat import Bracket, Ops, Text, call, seq

    rng = random.Random(seed)

    def name(size=None):
        text = "".join(rng.choice("abcdefghij_") for _ in range(size or rng.randint(1, 14))).strip("_") or "a"
        return text + "_" if keyword.iskeyword(text) or keyword.issoftkeyword(text) else text

    def value(depth=0):
        r = rng.random()
        if depth < 3 and r < 0.12:
            items = tuple(value(depth + 1) for _ in range(rng.randint(1, 4)))
            return Bracket("(", items, ")", one_tuple=len(items) == 1)
        if depth < 3 and r < 0.2:
            return Bracket("[", tuple(value(depth + 1) for _ in range(rng.randint(1, 5))), "]")
        if depth < 3 and r < 0.3:
            group = rng.choice([("+", "-"), ("*", "//", "%"), ("and", "or"), ("==", "<")])
            k = 2 if group[0] == "==" else rng.randint(2, 5)
            operands = [value(depth + 1) for _ in range(k)]
            operands = [Bracket("(", (v,), ")") if isinstance(v, Ops) else v for v in operands]
            return Ops(tuple(operands), tuple(rng.choice(group) for _ in range(k - 1)))
        if depth < 3 and r < 0.38:
            return call("layers." + name().capitalize(), arguments(depth + 1, rng.randint(0, 5)))
        if r < 0.6:
            return Text(str(rng.randint(0, 10 ** rng.randint(1, 8))))
        if r < 0.8:
            return Text('"' + name(rng.randint(1, 40)) + '"')
        return Text(name())

    def arguments(depth, k):
        positional = rng.randint(0, k)
        return [value(depth) for _ in range(positional)] + [seq(name() + "=", value(depth))
                                                            for _ in range(k - positional)]

    statements = []
    for _ in range(count):
        r = rng.random()
        layer = call("layers." + name().capitalize(), arguments(0, rng.randint(0, 8)))
        if r < 0.1:
            params = tuple(Text(name()) for _ in range(rng.randint(1, 4)))
            params += tuple(seq(name() + "=", value(1)) for _ in range(rng.randint(0, 5)))
            statements.append((0, seq("def " + name(), Bracket("(", params, ")"), ":")))
            continue
        if r < 0.5:
            inputs = Bracket("(", (Text(name()),), ")")
        elif r < 0.8:
            inputs = Bracket("(", (Bracket("[", tuple(Text(name()) for _ in range(rng.randint(1, 9))), "]"),), ")")
        else:
            inputs = Bracket("(", (Text(f"query={name()}"), Text(f"value={name()}")), ")")
        statements.append((rng.randint(1, 4), seq(name(rng.randint(1, 30)), " = ", layer, inputs)))
    return statements


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (pip install ruff)")
def test_layout_matches_ruff_on_random_statements():
    from netc.pyformat import lines

    chunks = []
    for depth, doc in _random_statements(seed=8, count=400):
        header = "".join("    " * level + "for _ in range(3):\n" for level in range(depth))
        body = lines(doc, depth)
        if body[-1].endswith(":"):
            body.append("    " * (depth + 1) + "pass")
        chunks.append(header + "\n".join(body) + "\n")
    source = "\n\n".join(chunks)
    assert _ruff_formatted(source) == source
