"""``netc fmt``: idempotent, meaning-preserving, comment-keeping; on every spec and on generated ones."""
from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, all_spec_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netc
from netc.compiler.parser import parse
from netc.fmt import FormatError, _lark, format_text, parse_with_comments


def ir_without_positions(value):
    if isinstance(value, dict):
        return {k: ir_without_positions(v) for k, v in value.items() if k not in ("line", "column")}
    if isinstance(value, list):
        return [ir_without_positions(v) for v in value]
    return value


def models_ir(text: str) -> dict:
    """Every model's IR (positions left out), or the diagnostic codes that prevent it."""
    module, _ = parse(text)
    found = {}
    for model in module.of_kind("model"):
        try:
            found[model.name] = ir_without_positions(netc.ir_string(text, model=model.name, path="x.net"))
        except netc.SpecError as e:
            found[model.name] = sorted(d.code for d in e.diagnostics)
    return found


def comments(text: str) -> list[str]:
    return [str(c).rstrip() for c in parse_with_comments(text)[1]]


def formattable() -> list:
    out = []
    for path in all_spec_files():
        text = path.read_text(encoding="utf-8")
        try:
            parse_with_comments(text)
        except FormatError:
            continue
        out.append(pytest.param(path, id=str(path.relative_to(ROOT))))
    return out


@pytest.mark.parametrize("path", formattable())
def test_fmt_is_idempotent_keeps_comments_and_meaning(path):
    text = path.read_text(encoding="utf-8")
    once = format_text(text)
    assert format_text(once) == once
    assert comments(once) == comments(text)
    assert models_ir(once) == models_ir(text)
    assert [d.code for d in netc.check_string(once)] == [d.code for d in netc.check_string(text)]


def test_layout():
    ugly = """# header

block  unit( f:int,k : int=3 ) {   # a block
  Conv2D( f,k ,padding='same')  as y # trailing
    # own line


  ReLU() Dense(3)
}
model   M(w:int=2,
   d: int = 3  # inside the parameters
) {
    input x:(32,32,3)
    repeat i in d { unit(w) if i>0 and not false {ReLU()}else if i == 0 { Dense(-w + (2*3)) } else { } }
    branch Concatenate(axis = channels) { path { } path { Conv2D(w,1) } } as z
    Concatenate() <- z, z as q
    output q
}
search M {
  w = choice(1,2)
  depth_long = int(1, 4)   # c
  objective val_loss minimize
}
"""
    assert format_text(ugly) == """# header

block unit(f: int, k: int = 3) {  # a block
    Conv2D(f, k, padding="same") as y  # trailing
    # own line

    ReLU()
    Dense(3)
}

# inside the parameters
model M(w: int = 2, d: int = 3) {
    input x: (32, 32, 3)
    repeat i in d {
        unit(w)
        if i > 0 and not false { ReLU() } else if i == 0 { Dense(-w + (2 * 3)) } else { }
    }
    branch Concatenate(axis=channels) { path { }  path { Conv2D(w, 1) } } as z
    Concatenate() <- z, z as q
    output q
}

search M {
    w          = choice(1, 2)
    depth_long = int(1, 4)  # c
    objective val_loss minimize
}
"""


def test_long_calls_and_headers_break_one_argument_a_line():
    args = ", ".join(f"a{i}: int = {i}" for i in range(12))
    text = f"model M({args}) {{ input x: (4,) Dense(a1, activation=\"relu\", use_bias=true, " \
           "kernel_initializer=\"glorot_uniform\", bias_initializer=\"zeros\", name=\"a_long_layer_name\") }\n"
    out = format_text(text)
    assert out.splitlines()[0] == "model M("
    assert "    a11: int = 11,\n) {" in out
    assert '        activation="relu",\n' in out and out.count("\n    )") == 1
    assert all(len(line) <= 100 for line in out.splitlines())
    assert format_text(out) == out and models_ir(out) == models_ir(text)


def test_a_long_setting_puts_one_item_a_line():
    text = ("train T {\n    data mnist1d()  # the data\n"
            '    callbacks [ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3),  # first\n'
            '        EarlyStopping(monitor="val_loss", patience=8, restore_best_weights=true)]  # last\n'
            "    metrics [\"accuracy\"]\n}\n")
    out = format_text(text)
    assert out == ("train T {\n    data mnist1d()  # the data\n    callbacks [\n"
                   '        ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3),  # first\n'
                   '        EarlyStopping(monitor="val_loss", patience=8, restore_best_weights=true),\n'
                   "    ]  # last\n    metrics [\"accuracy\"]\n}\n")
    assert format_text(out) == out


def test_syntax_errors_are_refused():
    with pytest.raises(FormatError) as e:
        format_text("model M { Dense(3 }")
    assert e.value.line == 1


def test_cli(tmp_path):
    spec = tmp_path / "a.net"
    spec.write_text("model M {input x: (4,) Dense(2)}\n", encoding="utf-8")
    run = [sys.executable, "-m", "netc", "fmt"]
    assert subprocess.run(run + ["--check", str(spec)], capture_output=True).returncode == 1
    assert subprocess.run(run + [str(spec)], capture_output=True).returncode == 0
    assert spec.read_text(encoding="utf-8") == "model M {\n    input x: (4,)\n    Dense(2)\n}\n"
    assert subprocess.run(run + ["--check", str(spec)], capture_output=True).returncode == 0
    piped = subprocess.run(run + ["-"], input="model M{input x:(4,)}", capture_output=True, text=True)
    assert piped.stdout == "model M {\n    input x: (4,)\n}\n"
    bad = tmp_path / "bad.net"
    bad.write_text("model M { Dense(3 }\n", encoding="utf-8")
    result = subprocess.run(run + [str(bad)], capture_output=True, text=True)
    assert result.returncode == 1 and "syntax error" in result.stderr
    assert bad.read_text(encoding="utf-8") == "model M { Dense(3 }\n"


# ---- generated specs -----------------------------------------------------------------------------

SAME_SHAPE = [  # statements that keep (16, 16, w)
    'Conv2D(w, 3, padding="same")',
    "BatchNormalization()",
    "ReLU()",
    "Dropout(0.1)",
    "unit(w)",
    "unit(w, k=1)",
    "repeat 2 { ReLU() }",
    "repeat i in depth { Conv2D(w, (3, 3), padding='same', use_bias=false) BatchNormalization(axis=channels) }",
    "if w > 4 and not (depth == 3) { ReLU() } else if depth % 2 == 0 { Activation(\"relu\") } else { }",
    "residual { Conv2D(w, 3, padding=\"same\") ReLU() }",
    "residual { MaxPooling2D(2) } shortcut { Conv2D(w, 1, strides=2) } UpSampling2D(2)",
    "branch Add() { path { } path { Conv2D(w * 2 // 2, 3, padding=\"same\") } }",
    "branch Concatenate(axis=channels) { path { Conv2D(w // 2, 1) } path { Conv2D(w - w // 2, 1) } }",
    "ZeroPadding2D(((0, 1), (0, 1))) Cropping2D(((0, 1), (0, 1)))",
    "LayerNormalization(epsilon=1e-3)",
]
TAIL = ["GlobalAveragePooling2D() Dense(classes, activation='softmax')",
        "Flatten() Dense(classes + 0) Softmax()",
        "GlobalMaxPooling2D() as pooled Dense(classes) as logits output logits"]
DIRECTIVES = [
    "train M(lr: float = 1e-3) { data mnist1d() optimizer Adam(learning_rate=lr) "
    "loss \"sparse_categorical_crossentropy\" metrics [\"accuracy\"] epochs 2 }",
    "search M { w = choice(8, 16) depth = int(1, 3) strategy random trials 3 objective val_loss minimize }",
    "ensemble E { members M.top(2), M(w=8) weights uniform objective val_loss }",
]


def _tokens(text: str) -> list[str]:
    return [str(t) for t in _lark().lex(text)]


@st.composite
def specs(draw) -> str:
    statements = draw(st.lists(st.sampled_from(SAME_SHAPE), max_size=7))
    tail = draw(st.sampled_from(TAIL))
    directives = draw(st.lists(st.sampled_from(DIRECTIVES), max_size=3, unique=True))
    source = "block unit(f: int, k: int = 3) { Conv2D(f, k, padding=\"same\") ReLU() }\n" \
             "model M(w: int = 8, depth: int = 2, classes: int = 10) { input image: (16, 16, 3) " \
             "Conv2D(w, 1) " + " ".join(statements) + " " + tail + " }\n" + "\n".join(directives)
    out = []
    for token in _tokens(source):
        if out:
            word = out[-1][-1:].isalnum() or out[-1][-1:] in "_\"'" or token[:1].isalnum() or token[:1] in "_\"'"
            gap = draw(st.sampled_from([" ", " ", "  ", "\n", "\n\n", "\n    ", " # note\n", "\n# own line\n",
                                        "", "", ""]))
            out.append(gap if gap or not word else " ")
        out.append(token)
    return "".join(out) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_generated_specs_format_idempotently_to_the_same_model(text):
    before = models_ir(text)
    assert all(isinstance(ir, dict) for ir in before.values()), before  # the generator makes valid models
    once = format_text(text)
    assert format_text(once) == once
    assert models_ir(once) == before
    assert sorted(comments(once)) == sorted(comments(text))
