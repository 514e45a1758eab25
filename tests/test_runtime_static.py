"""The static half of data fitting: loaders declare their shapes, and `netc check` finds misfits at the loader call.

All of this is framework-free: checking a spec with a train block imports no Keras.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

import netc
from conftest import ROOT, SPECS
from netc.catalog import training as cat
from netc.compiler.datafit import ADD_CHANNEL, SAME, fit_rule

MODEL = """
model M(units: int = 10) {{
    input x: {shape}
    Flatten()
    Dense(units, activation="softmax")
}}
train M {{
    data {data}
    loss "{loss}"
}}
"""


def diagnostics(shape="(40, 1)", data="mnist1d()", loss="sparse_categorical_crossentropy", units=10):
    text = MODEL.format(shape=shape, data=data, loss=loss).replace("units: int = 10", f"units: int = {units}")
    return netc.check_string(text, "m.net")


def codes(found) -> list[str]:
    return [d.code for d in found]


@pytest.mark.parametrize("input_shape, data_shape, rule", [
    ((40,), (40,), SAME), ((40, 1), (40,), ADD_CHANNEL), ((None,), (40,), SAME), ((8, 8, 1), (8, 8, 1), SAME),
    ((32, 1), (40,), None), ((40, 2), (40,), None), ((64,), (8, 8, 1), None), ((40, 1, 1), (40,), None),
])
def test_fit_rule_equal_shapes_or_one_trailing_channel(input_shape, data_shape, rule):
    assert fit_rule(input_shape, data_shape) == rule


def test_every_loader_declares_its_shapes():
    assert set(cat.LOADER_SHAPES) == set(cat.LOADERS)


def test_mismatched_input_is_an_error_at_the_loader_call():
    found = diagnostics(shape="(32, 1)")
    assert codes(found) == ["NC401"]
    d = found[0]
    assert d.message == "model M's input x is (None, 32, 1) but mnist1d() gives samples of shape (40,)"
    assert (d.line, d.column, d.end_column) == (8, 10, 19)
    assert "(40,)" in d.hint and "(40, 1)" in d.hint


@pytest.mark.parametrize("shape, data", [("(40, 1)", "mnist1d()"), ("(40,)", "mnist1d(split=\"test\")"),
                                         ("(64,)", "digits()"), ("(8, 8, 1)", "digits(as_images=true)"),
                                         ("(32, 32, 3)", "images(\"photos\", image_size=(32, 32))"),
                                         ("(3,)", "csv(\"t.csv\", target=\"y\", features=[\"a\", \"b\", \"c\"])"),
                                         ("(17,)", "npz(\"d.npz\")"), ("(17,)", "csv(\"t.csv\", target=\"y\")")])
def test_fitting_or_unknown_shapes_are_clean(shape, data):
    assert diagnostics(shape=shape, data=data) == []


def test_images_shape_comes_from_image_size_and_color_mode():
    found = diagnostics(shape="(32, 32, 3)", data='images("p", image_size=(32, 32), color_mode="grayscale")')
    assert codes(found) == ["NC401"] and "(32, 32, 1)" in found[0].message


def test_too_few_output_units_for_the_classes():
    found = diagnostics(units=5)
    assert codes(found) == ["NC402"]
    assert found[0].message == ("model M's output layer has 5 units but mnist1d() gives labels of 10 classes "
                                "(0 to 9)")
    assert diagnostics(units=5, loss="mse") == []  # no class rule for a regression loss
    assert codes(diagnostics(units=5, loss="categorical_crossentropy")) == ["NC402"]


def test_test_and_validation_data_are_checked_too():
    text = MODEL.format(shape="(40, 1)", data="mnist1d()", loss="sparse_categorical_crossentropy").replace(
        "    loss", "    test_data digits()\n    validation_data digits(as_images=true)\n    loss")
    found = netc.check_string(text, "m.net")
    assert codes(found) == ["NC401", "NC401"]
    assert [d.line for d in found] == [9, 10]


def test_validation_split_and_validation_data_together_are_an_error():
    text = MODEL.format(shape="(40, 1)", data="mnist1d()", loss="sparse_categorical_crossentropy").replace(
        "    loss", "    validation_split 0.2\n    validation_data mnist1d(split=\"test\")\n    loss")
    found = netc.check_string(text, "m.net")
    assert codes(found) == ["NC207"] and "not both" in found[0].message


def test_several_inputs_do_not_fit_one_loader():
    text = """
    model Two { input a: (40,) input b: (3,) Concatenate() <- a, b Dense(10, activation="softmax") }
    train Two { data mnist1d() loss "sparse_categorical_crossentropy" }
    """
    assert "NC401" in codes(netc.check_string(text, "m.net"))


def test_new_codes_are_explained():
    for code in ("NC401", "NC402", "NC403", "NC404", "NC405", "NC406"):
        assert netc.diagnostics.explain(code)


def test_mnist1d_spec_is_clean_and_checking_it_imports_no_framework():
    assert netc.check_file(SPECS / "mnist1d.net") == []
    script = ("import sys, netc; assert netc.check_file(sys.argv[1]) == []; "
              "print(sorted(m for m in ('keras', 'tensorflow', 'mnist1d', 'matplotlib', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script, str(SPECS / "mnist1d.net")], capture_output=True, text=True,
                         cwd=str(ROOT), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
