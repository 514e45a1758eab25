"""Stage 4: the intermediate form validates against its JSON Schema, and the builder reads only it."""
from __future__ import annotations

import json

import pytest

import netc
from conftest import all_spec_files
from netc.compiler.ir import schema, validate
from netc.compiler.parser import parse
from netc.compiler.pipeline import model_ir


def checkable_models():
    """(file, model) for every model of every spec that checks without errors."""
    found = []
    for path in all_spec_files():
        text = path.read_text(encoding="utf-8")
        module, _ = parse(text, str(path))
        for model in module.of_kind("model"):
            ir, _, _ = model_ir(text, str(path), model.name, {})
            if ir is not None:
                found.append((path, model.name))
    return found


MODELS = checkable_models()


def test_there_are_models_to_validate():
    assert len(MODELS) >= 8
    assert {p.parent.name for p, _ in MODELS} >= {"seed", "specs"}


@pytest.mark.parametrize("path,model", MODELS, ids=[f"{p.stem}:{m}" for p, m in MODELS])
def test_ir_of_every_spec_validates(path, model):
    ir = netc.ir_file(path, model)
    assert validate(ir) == []
    assert json.loads(json.dumps(ir)) == ir  # plain JSON, nothing Python-only
    assert ir["total_params"] == sum(l["trainable_params"] + l["non_trainable_params"] for l in ir["layers"])


def test_schema_rejects_what_netc_never_writes():
    ir = netc.ir_string("model M { input x: (4,) Dense(2) }")
    assert validate(ir) == []
    broken = json.loads(json.dumps(ir))
    broken["layers"][0]["inputs"] = ["x0"]
    broken["layers"][0]["args"]["units"] = {"python": "os.system"}
    broken["inputs"][0]["shape"] = [0]
    errors = validate(broken)
    assert len(errors) == 3, errors
    assert schema()["properties"]["netc_ir"] == {"const": 1}


def test_ir_encodes_tuples_lists_and_nested_layers():
    ir = netc.ir_string("""model M { input x: (10, 8, 8, 1)
        TimeDistributed(Conv2D(2, (3, 3))) Reshape((10, 72)) Bidirectional(LSTM(4, return_sequences=true)) }""")
    td, reshape, bi = ir["layers"]
    assert td["args"]["layer"] == {"layer": "Conv2D", "args": {"filters": 2, "kernel_size": [3, 3],
                                                               "data_format": "channels_last"}}
    assert reshape["args"]["target_shape"] == [10, 72]
    assert bi["args"]["layer"]["args"]["return_sequences"] is True


def test_the_keras_builder_reads_only_the_ir():
    """Building from a JSON round trip of the IR gives the same model as compiling the spec."""
    keras = pytest.importorskip("keras")
    from netc.compiler.keras_builder import build_model

    text = "model M { input x: (6, 6, 2) Conv2D(3, 3) BatchNormalization() Flatten() Dense(2) }"
    ir = json.loads(json.dumps(netc.ir_string(text)))
    rebuilt = build_model(ir)
    compiled = netc.compile_string(text)
    assert rebuilt.count_params() == compiled.count_params() == ir["total_params"]
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in compiled.weights]
    keras.backend.clear_session()
