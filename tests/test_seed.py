"""The seed specs (specs/seed/*.net) against the same models written by hand in Keras.

Every seed model is compiled with netc and written again with Keras's functional API, the way a
Keras user would write it. The two must agree on parameter counts (total, trainable,
non-trainable), on output shapes, and, once the hand model's weights are copied into the
compiled one, on predictions. ``netc summary --format json`` (which never imports Keras) must
report the same totals and output shapes.
"""
from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import netc  # noqa: E402
from netc.cli import main as netc_main  # noqa: E402

L = keras.layers
SEED = Path(__file__).resolve().parent.parent / "specs" / "seed"
BATCH = 3


# --------------------------------------------------------------------------------------------
# The hand-written Keras models
# --------------------------------------------------------------------------------------------

def hand_small_sep_conv(num_class: int = 10) -> keras.Model:
    image = keras.Input((64, 64, 3), name="image")
    x = L.SeparableConv2D(32, 3, activation="relu")(image)
    x = L.SeparableConv2D(64, 3, activation="relu")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.SeparableConv2D(64, 3, activation="relu")(x)
    x = L.SeparableConv2D(128, 3, activation="relu")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.SeparableConv2D(64, 3, activation="relu")(x)
    x = L.SeparableConv2D(128, 3, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(32, activation="relu")(x)
    out = L.Dense(num_class, activation="softmax")(x)
    return keras.Model(image, out)


def hand_conv_bn() -> keras.Model:
    # The model's data_format flows to every layer that takes it: Conv2D and Flatten here.
    # (Flatten(data_format="channels_first") moves the channels last before flattening, so
    # leaving it out would change the order of the Dense layer's inputs.)
    inp = keras.Input((3, 32, 32), name="x")
    x = L.Conv2D(32, 3, use_bias=False, data_format="channels_first")(inp)
    x = L.BatchNormalization(axis=1)(x)
    x = L.ReLU()(x)
    x = L.Flatten(data_format="channels_first")(x)
    x = L.Dense(32, use_bias=False)(x)
    out = L.BatchNormalization(axis=-1)(x)
    return keras.Model(inp, out)


def hand_dense_bn(width: int = 128, depth: int = 3, num_class: int = 10) -> keras.Model:
    inp = keras.Input((64,), name="x")
    x = inp
    for _ in range(depth):
        x = L.Dense(width, use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
    out = L.Dense(num_class, activation="softmax")(x)
    return keras.Model(inp, out)


def hand_tunable(width: int = 64, depth: int = 2, norm: bool = True, dropout: float = 0.3) -> keras.Model:
    inp = keras.Input((40, 1), name="x")
    x = inp
    for _ in range(depth):
        x = L.Conv1D(width, 5, padding="same")(x)
        if norm:
            x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
    x = L.GlobalAveragePooling1D()(x)
    x = L.Dropout(dropout)(x)
    out = L.Dense(10, activation="softmax")(x)
    return keras.Model(inp, out)


def sep_bn(x, filters: int, kernel: int = 3):
    x = L.SeparableConv2D(filters, kernel, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    return L.ReLU()(x)


def down(x, filters: int, strides: int = 1):
    if strides == 1:
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    else:
        x = L.ZeroPadding2D(((0, 1), (0, 1)))(x)
        x = L.DepthwiseConv2D(3, strides=strides, padding="valid", use_bias=False)(x)
    return L.Conv2D(filters * 2, 1, use_bias=False)(x)


def hand_sep_net(num_class: int = 10) -> keras.Model:
    image = keras.Input((32, 32, 3), name="image")
    x = sep_bn(image, 32)
    x = down(x, 64, strides=2)
    x = sep_bn(x, 64, kernel=5)
    x = down(x, 64)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(num_class, activation="softmax")(x)
    return keras.Model(image, out)


def hand_residual_branch(num_class: int = 10) -> keras.Model:
    inp = keras.Input((32, 32, 128), name="x")
    # residual { sep_bn(128) sep_bn(128) }: Add()([input, body(input)])
    body = sep_bn(sep_bn(inp, 128), 128)
    x = L.Add()([inp, body])
    # residual { ... } shortcut { ... }: Add()([shortcut(input), body(input)])
    short = L.Conv2D(128, 1, strides=2, padding="same", use_bias=False)(x)
    short = L.BatchNormalization()(short)
    body = L.SeparableConv2D(128, 3, padding="same")(x)
    body = L.MaxPooling2D(3, strides=2, padding="same")(body)
    x = L.Add()([short, body])
    # Inception-style branch
    p1 = L.Conv2D(64, 1)(x)
    p2 = L.Conv2D(48, 1)(x)
    p2 = L.Conv2D(64, 5, padding="same")(p2)
    p3 = L.AveragePooling2D(3, strides=1, padding="same")(x)
    p3 = L.Conv2D(32, 1)(p3)
    x = L.Concatenate(axis=-1)([p1, p2, p3])
    # DenseNet-style branch: an empty path is the identity
    x = L.Concatenate(axis=-1)([x, L.Conv2D(32, 3, padding="same")(x)])
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(num_class, activation="softmax")(x)
    return keras.Model(inp, out)


def hand_tickets(num_words: int = 10000, num_tags: int = 12, num_departments: int = 4) -> keras.Model:
    title = keras.Input((None,), name="title")
    body = keras.Input((None,), name="body")
    tags = keras.Input((num_tags,), name="tags")
    title_features = L.LSTM(128)(L.Embedding(num_words, 64)(title))
    body_features = L.LSTM(32)(L.Embedding(num_words, 64)(body))
    features = L.Concatenate()([title_features, body_features, tags])
    priority = L.Dense(1, name="priority")(features)
    department = L.Dense(num_departments, name="department")(features)
    return keras.Model([title, body, tags], [priority, department])


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------

def float_inputs(*shapes):
    def make(rng: np.random.Generator):
        return [rng.standard_normal((BATCH, *shape)).astype("float32") for shape in shapes]
    return make


def tickets_inputs(num_words: int = 10000, num_tags: int = 12, seq_len: int = 7):
    def make(rng: np.random.Generator):
        title = rng.integers(0, num_words, size=(BATCH, seq_len)).astype("int32")
        body = rng.integers(0, num_words, size=(BATCH, seq_len + 4)).astype("int32")
        tags = rng.random((BATCH, num_tags)).astype("float32")
        return [title, body, tags]
    return make


@dataclass
class Case:
    id: str
    file: str
    model: str | None
    hand: Callable[..., Any]
    inputs: Callable[[np.random.Generator], list]
    params: dict = field(default_factory=dict)

    def spec_params(self) -> list[str]:
        """The params as ``--param`` arguments (spec literals)."""
        out = []
        for k, v in self.params.items():
            text = ("true" if v else "false") if isinstance(v, bool) else repr(v)
            out += ["--param", f"{k}={text}"]
        return out


CASES = [
    Case("small_sep_conv", "small_sep_conv.net", None, hand_small_sep_conv, float_inputs((64, 64, 3))),
    Case("small_sep_conv_3_classes", "small_sep_conv.net", "SmallSepConv", hand_small_sep_conv,
         float_inputs((64, 64, 3)), {"num_class": 3}),
    Case("conv_bn", "conv_bn.net", None, hand_conv_bn, float_inputs((3, 32, 32))),
    Case("dense_bn", "dense_bn.net", None, hand_dense_bn, float_inputs((64,))),
    Case("dense_bn_narrow_deep", "dense_bn.net", "DenseBN", hand_dense_bn, float_inputs((64,)),
         {"width": 16, "depth": 5, "num_class": 4}),
    Case("blocks_tunable", "blocks.net", "Tunable", hand_tunable, float_inputs((40, 1))),
    Case("blocks_sep_net", "blocks.net", "SepNet", hand_sep_net, float_inputs((32, 32, 3))),
    Case("residual_branch", "residual_branch.net", None, hand_residual_branch, float_inputs((32, 32, 128))),
    Case("tickets", "tickets.net", None, hand_tickets, tickets_inputs()),
    Case("tickets_small", "tickets.net", "Tickets", hand_tickets, tickets_inputs(500, 5),
         {"num_words": 500, "num_tags": 5, "num_departments": 3}),
    Case("tunable", "tunable.net", "Tunable", hand_tunable, float_inputs((40, 1))),
    Case("tunable_no_norm", "tunable.net", "Tunable", hand_tunable, float_inputs((40, 1)),
         {"width": 32, "depth": 3, "norm": False, "dropout": 0.1}),
    Case("tunable_depth_1", "tunable.net", "Tunable", hand_tunable, float_inputs((40, 1)),
         {"width": 128, "depth": 1, "norm": True, "dropout": 0.5}),
]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def count(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


def output_shapes(model) -> list[tuple]:
    return [tuple(t.shape) for t in model.outputs]


def summary_json(path: Path, model: str | None, extra: list[str]) -> dict:
    argv = ["summary", str(path), "--format", "json", *extra]
    if model:
        argv += ["--model", model]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = netc_main(argv)
    assert rc == 0, buf.getvalue()
    return json.loads(buf.getvalue())


def as_list(y) -> list[np.ndarray]:
    if isinstance(y, dict):
        raise AssertionError("expected a list of outputs, got a dict")
    if isinstance(y, (list, tuple)):
        return [np.asarray(v) for v in y]
    return [np.asarray(y)]


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------

SEED_FILES = ["small_sep_conv.net", "conv_bn.net", "dense_bn.net", "blocks.net", "residual_branch.net",
              "tickets.net", "tunable.net"]


@pytest.mark.parametrize("name", SEED_FILES)
def test_seed_spec_is_clean(name):
    path = SEED / name
    assert path.is_file()
    diagnostics = netc.check_file(path)
    assert diagnostics == [], "\n".join(f"{d.code}: {d.message}" for d in diagnostics)


def test_netc_check_seed_folder_exits_zero():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = netc_main(["check", str(SEED)])
    assert rc == 0, buf.getvalue()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_seed_matches_hand_written_keras(case: Case):
    path = SEED / case.file
    hand = case.hand(**case.params)
    compiled = netc.compile_file(path, case.model, **case.params)
    assert isinstance(compiled, keras.Model)

    # parameter counts
    assert compiled.count_params() == hand.count_params()
    assert count(compiled.trainable_weights) == count(hand.trainable_weights)
    assert count(compiled.non_trainable_weights) == count(hand.non_trainable_weights)

    # inputs and outputs
    assert len(compiled.inputs) == len(hand.inputs)
    assert [tuple(t.shape) for t in compiled.inputs] == [tuple(t.shape) for t in hand.inputs]
    assert output_shapes(compiled) == output_shapes(hand)

    # weights line up one to one, in order (both are functional models over the same graph,
    # and Keras orders a functional model's layers by the graph, not by creation order)
    hand_weights = hand.get_weights()
    assert [w.shape for w in compiled.get_weights()] == [w.shape for w in hand_weights]

    # predictions after copying the hand model's weights into the compiled model
    rng = np.random.default_rng(0)
    # perturb every weight (moving means/variances, zero biases, unit gammas included), so
    # that the normalization axis and the inference-mode statistics actually matter
    hand_weights = [(w * rng.uniform(0.8, 1.2, size=w.shape) + rng.normal(0.0, 0.02, size=w.shape)).astype(w.dtype)
                    for w in hand_weights]
    hand.set_weights(hand_weights)
    compiled.set_weights(hand_weights)
    x = case.inputs(rng)
    feed = x if len(x) > 1 else x[0]
    expected = as_list(hand(feed, training=False))
    actual = as_list(compiled(feed, training=False))
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-5)

    # the static summary (no Keras) agrees with Keras
    summary = summary_json(path, case.model, case.spec_params())
    assert summary["params"] == hand.count_params()
    assert summary["trainable_params"] == count(hand.trainable_weights)
    assert summary["non_trainable_params"] == count(hand.non_trainable_weights)
    assert [tuple(s) for s in summary["outputs"]] == [s[1:] for s in output_shapes(hand)]


def _feature_axes(layer) -> list[int]:
    """A normalization layer's axes as non-negative indices into its input's shape."""
    rank = len(layer.input.shape)
    axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    return sorted(int(a) % rank for a in axes)


def test_conv_bn_normalization_axes():
    compiled = netc.compile_file(SEED / "conv_bn.net")
    bns = [layer for layer in compiled.layers if isinstance(layer, L.BatchNormalization)]
    assert len(bns) == 2
    first, second = bns
    # BatchNormalization()  # axis 1 here  (rank-4 input under channels_first)
    assert len(first.input.shape) == 4
    assert first.axis in (1, [1], (1,)), first.axis
    assert _feature_axes(first) == [1]
    assert tuple(first.gamma.shape) == (32,)
    # BatchNormalization(axis=channels)  # axis -1 here (rank-2 input); -1 and 1 are the same axis
    assert len(second.input.shape) == 2
    assert second.axis in (-1, 1, [-1], [1], (-1,), (1,)), second.axis
    assert _feature_axes(second) == [1]
    assert tuple(second.gamma.shape) == (32,)
    # data_format reaches the convolution
    convs = [layer for layer in compiled.layers if isinstance(layer, L.Conv2D)]
    assert [c.data_format for c in convs] == ["channels_first"]
    assert compiled.output_shape == (None, 32)


def test_conv_bn_static_summary_shapes():
    # the static summary (no Keras) reports the channels_first shapes
    summary = summary_json(SEED / "conv_bn.net", None, [])
    shapes = [tuple(layer["output_shape"]) for layer in summary["layers"]]
    assert shapes[:4] == [(32, 30, 30), (32, 30, 30), (32, 30, 30), (32 * 30 * 30,)]


def test_tickets_inputs_and_outputs():
    compiled = netc.compile_file(SEED / "tickets.net")
    assert [t.name for t in compiled.inputs] == ["title", "body", "tags"]
    assert list(compiled.output_names) == ["priority", "department"]
    assert output_shapes(compiled) == [(None, 1), (None, 4)]
    assert [tuple(t.shape) for t in compiled.inputs] == [(None, None), (None, None), (None, 12)]
    # the layers producing the outputs carry the labels too
    assert compiled.get_layer("priority").units == 1
    assert compiled.get_layer("department").units == 4


def test_tickets_outputs_follow_params():
    compiled = netc.compile_file(SEED / "tickets.net", num_departments=7, num_tags=3)
    assert list(compiled.output_names) == ["priority", "department"]
    assert output_shapes(compiled) == [(None, 1), (None, 7)]
    assert tuple(compiled.inputs[2].shape) == (None, 3)


def test_blocks_if_compiles_both_branches():
    compiled = netc.compile_file(SEED / "blocks.net", "SepNet")
    kinds = [type(layer).__name__ for layer in compiled.layers]
    depthwise = [layer for layer in compiled.layers if isinstance(layer, L.DepthwiseConv2D)]
    assert kinds.count("ZeroPadding2D") == 1
    assert [(d.strides, d.padding) for d in depthwise] == [((2, 2), "valid"), ((1, 1), "same")]
    assert all(not d.use_bias for d in depthwise)


def test_tunable_is_the_same_in_both_files():
    a = summary_json(SEED / "blocks.net", "Tunable", [])
    b = summary_json(SEED / "tunable.net", "Tunable", [])
    assert a["params"] == b["params"]
    assert [layer["layer"] for layer in a["layers"]] == [layer["layer"] for layer in b["layers"]]
    assert [layer["output_shape"] for layer in a["layers"]] == [layer["output_shape"] for layer in b["layers"]]


def test_tunable_dropout_rate_is_bound():
    compiled = netc.compile_file(SEED / "tunable.net", "Tunable", dropout=0.45)
    (dropout,) = [layer for layer in compiled.layers if isinstance(layer, L.Dropout)]
    assert dropout.rate == pytest.approx(0.45)
