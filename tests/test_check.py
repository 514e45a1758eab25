"""Stages 2 and 3: expansion and static checks (shapes, parameters, axes), framework-free."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import netc
from netc.compiler.pipeline import analyze, model_ir

TUNABLE = """
model Tunable(width: int = 64, depth: int = 2, norm: bool = true, dropout: float = 0.3) {
    input x: (40, 1)
    repeat depth {
        Conv1D(width, 5, padding="same")
        if norm { BatchNormalization() }
        ReLU()
    }
    GlobalAveragePooling1D()
    Dropout(dropout)
    Dense(10, activation="softmax")
}
"""


def layers(text: str, **params) -> list[dict]:
    ir, _, diagnostics = model_ir(text, "<t>", None, params)
    assert ir is not None, diagnostics
    return ir["layers"]


def codes(text: str) -> list[str]:
    return [d.code for d in netc.check_string(text)]


def test_checking_never_imports_a_framework():
    script = textwrap.dedent(f"""
        import sys, netc
        from netc.cli import main
        netc.check_string({TUNABLE!r})
        netc.ir_string({TUNABLE!r})
        main(["check", "specs"])
        main(["summary", "specs/seed/small_sep_conv.net", "--format", "json"])
        loaded = sorted({{m.split('.')[0] for m in sys.modules}} & {{'keras', 'tensorflow', 'jax', 'torch'}})
        print("LOADED", loaded)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(ROOT))
    assert "LOADED []" in out.stdout, out.stdout + out.stderr


from conftest import ROOT  # noqa: E402


def test_repeat_and_if_follow_parameters():
    assert [l["layer"] for l in layers(TUNABLE)] == [
        "Conv1D", "BatchNormalization", "ReLU", "Conv1D", "BatchNormalization", "ReLU",
        "GlobalAveragePooling1D", "Dropout", "Dense"]
    assert [l["layer"] for l in layers(TUNABLE, depth=1, norm=False)] == [
        "Conv1D", "ReLU", "GlobalAveragePooling1D", "Dropout", "Dense"]


def test_parameter_counts_and_shapes_are_static():
    found = layers(TUNABLE, width=32, depth=1)
    conv, bn = found[0], found[1]
    assert conv["output_shape"] == [40, 32] and conv["trainable_params"] == 1 * 5 * 32 + 32
    assert bn["trainable_params"] == 64 and bn["non_trainable_params"] == 64


def test_parameter_overrides_are_type_checked():
    with pytest.raises(netc.SpecError) as e:
        netc.ir_string(TUNABLE, depth="2")
    assert [d.code for d in e.value.diagnostics] == ["NC201"]
    with pytest.raises(netc.SpecError) as e:
        netc.ir_string(TUNABLE, widht=3)
    assert e.value.diagnostics[0].code == "NC108" and "did you mean 'width'" in e.value.diagnostics[0].message
    assert netc.ir_string(TUNABLE, dropout=0)["params"]["dropout"] == 0.0  # int widens to float


@pytest.mark.parametrize("data_format,rank_input,expected", [
    ("channels_last", "(8, 8, 3)", [-1, -1]),
    ("channels_first", "(3, 8, 8)", [1, -1]),
])
def test_normalization_axis_follows_the_data_format(data_format, rank_input, expected):
    text = f"""model M {{ data_format {data_format} input x: {rank_input}
        Conv2D(4, 3) BatchNormalization() Flatten() Dense(4) BatchNormalization(axis=channels) }}"""
    axes = [l["args"]["axis"] for l in layers(text) if l["layer"] == "BatchNormalization"]
    assert axes == expected


def test_channels_first_conv1d_and_concatenate_use_axis_one():
    text = """model M { data_format channels_first input x: (4, 20)
        branch Concatenate(axis=channels) { path { } path { Conv1D(4, 3, padding="same") } } BatchNormalization() }"""
    found = layers(text)
    assert found[1]["args"]["axis"] == 1 and found[1]["output_shape"] == [8, 20]
    assert found[2]["args"]["axis"] == 1


def test_spatial_normalization_axis_is_flagged_with_the_probable_fix():
    diagnostics = netc.check_string("""model M { data_format channels_first input x: (3, 8, 8)
        Conv2D(4, 3) BatchNormalization(axis=-1) }""")
    (d,) = diagnostics
    assert d.code == "NC304" and "did you mean axis=1" in d.hint
    assert d.column == diagnostics[0].column and d.end_column - d.column == 2  # points at the value "-1"


def test_residual_and_branch_become_merges():
    text = """model M { input x: (8, 8, 4)
        residual { Conv2D(4, 3, padding="same") }
        residual { Conv2D(8, 3, padding="same") } shortcut { Conv2D(8, 1) }
        branch Concatenate() { path { } path { Conv2D(2, 1) } } }"""
    found = layers(text)
    adds = [l for l in found if l["layer"] == "Add"]
    assert [a["role"] for a in adds] == ["residual", "residual"]
    assert adds[0]["inputs"][0] == "n0"  # Add()([input, body(input)])
    assert found[-1]["layer"] == "Concatenate" and found[-1]["output_shape"] == [8, 8, 10]
    assert found[-1]["inputs"][0] == adds[1]["id"]  # the empty path is the identity


def test_general_graphs_name_outputs():
    ir = netc.ir_string("""model M { input a: (4,) input b: (3,)
        Concatenate() <- a, b as both  Dense(1) as score  from both  Dense(2) as label  output score, label }""")
    assert [o["name"] for o in ir["outputs"]] == ["score", "label"]
    assert [o["shape"] for o in ir["outputs"]] == [[1], [2]]


def test_labels_inside_blocks_are_local_to_each_call():
    text = """block pair(n: int) { Dense(n) as h  Dense(n) as g  Add() <- h, g }
        model M { input x: (4,) pair(3) pair(3) }"""
    assert codes(text) == []


def test_multi_head_attention_on_the_stack_is_self_attention():
    found = layers("model M { input x: (10, 16) MultiHeadAttention(num_heads=2, key_dim=8) }")
    assert found[0]["inputs"] == ["n0", "n0"] and found[0]["output_shape"] == [10, 16]


def test_wrapped_layers_are_checked():
    found = layers("model M { input x: (10, 8) Bidirectional(LSTM(16)) TimeDistributed(Dense(3)) }"
                   .replace("TimeDistributed(Dense(3))", ""))
    assert found[0]["output_shape"] == [32]
    diagnostics = netc.check_string("model M { input x: (10, 8) Bidirectional(LSTN(16)) }")
    assert diagnostics[0].code == "NC101" and "LSTM" in diagnostics[0].message


def test_unused_blocks_with_cycles_are_still_reported():
    assert codes("block a() { b() } block b() { a() } model M { input x: (2,) Dense(1) }") == ["NC106"]


def test_every_diagnostic_code_is_documented():
    from netc.diagnostics import CODES, explain
    for code in CODES:
        assert explain(code).startswith(code)
    assert explain("NC999") is None


def test_analysis_keeps_going_after_errors():
    analysis = analyze("model A { input x: (2,) Desne(3) Dense(2, activation=\"nope\") }\n"
                       "model B { input y: (3,) Dense(1) }")
    assert [d.code for d in analysis.diagnostics] == ["NC101", "NC201"]
    assert analysis.graphs["B"].nodes[-1].shape == (1,)


def test_blocks_no_model_calls_still_have_their_names_checked():
    found = netc.check_string("block b() { Desne(3) Dense(3, unitz=2) nope() }\nmodel M { input x: (2,) Dense(1) }")
    assert [(d.code, d.column) for d in found] == [("NC101", 13), ("NC102", 31), ("NC101", 40)]


@pytest.mark.parametrize("text,expected", [
    # a frozen layer's weights count as non-trainable, as Keras counts them
    ("model F { input x: (8,) Dense(4, trainable=false) Dense(2) }", []),
    # data_format belongs to the model's top level
    ("model M(cf: bool = true) { if cf { data_format channels_first } input x: (3, 8, 8) Conv2D(4, 3) }",
     ["NC206"]),
    # name= collides with a label
    ('model M { input x: (4,) Dense(3, name="a") Dense(3) as a }', ["NC105"]),
    # a block may not hide a catalog layer
    ("block Dense(units: int) { ReLU() } model M { input x: (4,) Dense(3) }", ["NC105"]),
    # channels means an axis, nothing else
    ("model M { input x: (4,) Dropout(0.5, seed=channels) }", ["NC201"]),
    # Python spellings get a suggestion
    ("model M { input x: (4,) Dense(3, use_bias=True) }", ["NC103"]),
    # literal numbers are bounded like computed ones
    ("model M { input x: (4,) Dense(99999999999999999999) }", ["NC004"]),
    # a branch the default parameters do not take still has its names checked
    ("model M(deep: bool = false) { input x: (4,) if deep { Dens(3) } Dense(2) }", ["NC101"]),
    # a model with required parameters is checked once it has values, not reported as broken
    ("model M(a: int) { input x: (4,) Dense(a) }", []),
    # dead layers are a warning
    ("model W { input a: (4,) Dense(3) as h from a Dense(2) }", ["NC109"]),
    # a search can bind a parameter whose name is also a setting keyword
    ("model T(seed: int = 1) { input x: (40,) Dense(10) }\ntrain T { data mnist1d() loss \"mse\" }\n"
     "search T { seed = choice(1, 2) }", []),
    # a direction belongs to the objective only
    ("model T(w: int = 1) { input x: (40,) Dense(10) }\ntrain T { data mnist1d() loss \"mse\" }\n"
     "search T { w = choice(1, 2) trials 3 maximize }", ["NC207"]),
])
def test_regressions_from_review(text, expected):
    assert codes(text) == expected


def test_frozen_layers_and_dead_layers_are_counted_as_keras_counts_them():
    ir = netc.ir_string("model F { input x: (8,) Dense(4, trainable=false) Dense(2) }")
    assert (ir["trainable_params"], ir["non_trainable_params"]) == (10, 36)
    ir = netc.ir_string("model W { input a: (4,) Dense(3) as h from a Dense(2) }")
    assert ir["total_params"] == 10 and [l["layer"] for l in ir["layers"]] == ["Dense"]


def test_a_label_rebound_by_repeat_names_only_the_last_layer():
    ir = netc.ir_string("model M { input x: (4,) repeat 2 { Dense(4) as h } }")
    assert [l["name"] for l in ir["layers"]] == [None, "h"]


def test_group_normalization_follows_the_data_format_too():
    ir = netc.ir_string("""model G { data_format channels_first input x: (32, 16, 16)
        Conv2D(32, 3, padding="same") GroupNormalization(groups=8) }""")
    assert ir["layers"][1]["args"]["axis"] == 1


def test_any_typed_parameters_holding_calls_keep_the_ir_valid():
    from netc.compiler.ir import validate
    ir = netc.ir_string("model M(cell: any = LSTM(8), ax: any = channels) { input x: (10, 3) Bidirectional(cell) }")
    assert ir["params"] == {"cell": "LSTM(...)", "ax": "channels"} and validate(ir) == []


def test_arithmetic_functions_are_computed_at_compile_time():
    ir = netc.ir_string("""model F(alpha: float = 0.75) { input x: (8, 8, 3)
        Conv2D(max(8, int(16 * alpha + 4) // 8 * 8), 1) Dense(round(2.6)) Dense(abs(-2) + floor(1.5) + ceil(0.2)) }""")
    assert [l["args"].get("filters", l["args"].get("units")) for l in ir["layers"]] == [16, 3, 4]
    assert codes('model M { input x: (4,) Dense(min(1, "a")) }') == ["NC205"]
    assert codes("model M { input x: (4,) Dense(int(1, 2)) }") == ["NC202"]
    # in a search, a top-level int(low, high) is still the distribution
    assert codes("model T(w: int = 1) { input x: (40,) Dense(10) }\ntrain T { data mnist1d() loss \"mse\" }\n"
                 "search T { w = int(1, 4) }") == []
