"""The reference architectures in specs/applications equal keras.applications.

Each spec is compiled and compared with ``keras.applications.X(weights=None)``
at the same (small) input size and number of classes, and with the same values
for the parameters both take (MobileNetV2's ``alpha``): parameter counts, output
shape, the weight shapes in order, the layer types and configurations in order,
and the predictions once the reference's weights are loaded into the compiled
model. Works under any Keras backend (tensorflow, jax).
"""
from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

# Keras converts variables with np.array(variable), which numpy 2 warns about (jax backend).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

import netc  # noqa: E402
from netc import cli  # noqa: E402

SPECS = Path(__file__).resolve().parent.parent / "specs" / "applications"
CLASSES = 10

# keras.applications name: spec file, the smallest input size keras.applications
# accepts, and the parameter count at the spec's defaults (keras.io/api/applications).
APPLICATIONS = {
    "ResNet50": ("resnet50.net", 32, 25_636_712),
    "InceptionV3": ("inception_v3.net", 75, 23_851_784),
    "Xception": ("xception.net", 71, 22_910_480),
    "MobileNetV2": ("mobilenet_v2.net", 32, 3_538_984),
}

# Each application at its defaults, and the widths of MobileNetV2 that Keras rounds
# differently (0.35 and 0.75 take its 10% correction, 1.3 widens the last conv).
CASES = [(name, {}) for name in sorted(APPLICATIONS)] + [
    ("MobileNetV2", {"alpha": alpha}) for alpha in (0.35, 0.75, 1.3)]


def _count(weights) -> int:
    return sum(int(np.prod(w.shape)) for w in weights)


class Pair:
    def __init__(self, name: str, params: dict):
        file, self.size, self.default_params = APPLICATIONS[name]
        self.name, self.path, self.params = name, SPECS / file, params
        self.model = netc.compile_file(self.path, size=self.size, classes=CLASSES, **params)
        self.reference = getattr(keras.applications, name)(
            weights=None, input_shape=(self.size, self.size, 3), classes=CLASSES, **params)


@pytest.fixture(scope="module", params=CASES,
                ids=lambda case: case[0] + "".join(f"-{k}={v}" for k, v in case[1].items()))
def pair(request) -> Pair:
    return Pair(*request.param)


def test_model_name(pair):
    assert pair.model.name == pair.name


def test_param_counts(pair):
    model, ref = pair.model, pair.reference
    assert model.count_params() == ref.count_params()
    assert _count(model.trainable_weights) == _count(ref.trainable_weights)
    assert _count(model.non_trainable_weights) == _count(ref.non_trainable_weights)


def test_output_shape(pair):
    assert tuple(pair.model.output.shape) == tuple(pair.reference.output.shape) == (None, CLASSES)
    assert tuple(pair.model.input.shape) == tuple(pair.reference.input.shape)


def test_weight_shapes_in_order(pair):
    assert [tuple(w.shape) for w in pair.model.weights] == [tuple(w.shape) for w in pair.reference.weights]


def test_layer_types_in_order(pair):
    assert [type(x).__name__ for x in pair.model.layers] == [type(x).__name__ for x in pair.reference.layers]


def _axis(layer, axis):
    """An axis as a non-negative index into the layer's input (Keras writes 3, netc -1)."""
    shape = layer.input[0].shape if isinstance(layer.input, (list, tuple)) else layer.input.shape
    return axis % len(shape) if isinstance(axis, int) else axis


def test_layer_configs_in_order(pair):
    """Every layer has the reference layer's configuration (names aside, axes normalized)."""
    for ours, theirs in zip(pair.model.layers, pair.reference.layers):
        a, b = ours.get_config(), theirs.get_config()
        for config, layer in ((a, ours), (b, theirs)):
            config.pop("name", None)
            if "axis" in config:
                config["axis"] = _axis(layer, config["axis"])
        assert a == b, f"{ours.name} differs from {theirs.name}"


def _outputs(model, x, training):
    return keras.ops.convert_to_numpy(model(x, training=training))


def test_same_predictions_with_the_same_weights(pair):
    model, ref = pair.model, pair.reference
    model.set_weights(ref.get_weights())
    x = np.random.default_rng(0).uniform(-1, 1, (2, pair.size, pair.size, 3)).astype("float32")
    expected = _outputs(ref, x, training=False)
    got = _outputs(model, x, training=False)
    assert got.shape == (2, CLASSES)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    # With fresh batch-norm statistics the activations of these deep nets vanish, so the
    # inference outputs above are nearly uniform and would hide a wrong padding or a
    # swapped weight. With batch statistics (training=True; there is no dropout in
    # these models) every layer stays in range and the outputs depend on every detail.
    expected = _outputs(ref, x, training=True)
    got = _outputs(model, x, training=True)
    assert expected.max() - expected.min() > 1e-2, "the comparison would not be sensitive"
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def _summary(path: Path, *params: str) -> dict:
    argv = ["summary", str(path), "--format", "json"]
    for p in params:
        argv += ["--param", p]
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(argv) == 0
    return json.loads(out.getvalue())


def test_summary_totals_equal_count_params(pair):
    summary = _summary(pair.path, f"size={pair.size}", f"classes={CLASSES}",
                       *(f"{k}={v}" for k, v in pair.params.items()))
    ref = pair.reference
    assert summary["model"] == pair.name
    assert summary["params"] == ref.count_params()
    assert summary["trainable_params"] == _count(ref.trainable_weights)
    assert summary["non_trainable_params"] == _count(ref.non_trainable_weights)
    assert summary["outputs"] == [[CLASSES]]


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_defaults_are_the_imagenet_models(name):
    """At its defaults (224 or 299 pixels, 1000 classes) each spec has the published size."""
    file, _, expected = APPLICATIONS[name]
    summary = _summary(SPECS / file)
    default_size = 299 if name in ("InceptionV3", "Xception") else 224
    assert summary["inputs"] == [[default_size, default_size, 3]]
    assert summary["outputs"] == [[1000]]
    assert summary["params"] == expected


def test_specs_check_clean():
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["check", str(SPECS)]) == 0
    assert out.getvalue().strip() == ""


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_spec_is_shorter_than_the_keras_source(name):
    import importlib

    module = {"ResNet50": "resnet", "InceptionV3": "inception_v3", "Xception": "xception",
              "MobileNetV2": "mobilenet_v2"}[name]
    source = Path(importlib.import_module(f"keras.src.applications.{module}").__file__)
    spec_lines = len((SPECS / APPLICATIONS[name][0]).read_text().splitlines())
    assert spec_lines < len(source.read_text().splitlines())
