"""The catalog's static shapes and parameter counts equal real Keras's.

For every catalog layer a Hypothesis strategy draws arguments and input
shapes (small, so building is fast), mostly valid but also ones Keras refuses
(a kernel larger than its input, clashing merge shapes, a wrong rank). Then:

- netc accepts the configuration (every argument's type accepts its value,
  ``output_shape`` and ``params`` return) exactly when Keras builds it;
- when both accept, the output shape (batch excluded) and the trainable and
  non-trainable parameter counts are equal (an output with a size of 0 or less
  counts as Keras refusing: netc reports it as NC302);
- when netc refuses with ``ShapeError``, its code is one of the documented ones.

The strategies never draw what netc refuses on purpose although symbolic Keras
builds it (checked by ``test_stricter_than_keras`` instead): those configurations
would fail when the model runs or silently misread the input.

Runs under any Keras backend: only ``keras.Input``, layer calls and weight shapes are used.
"""
from __future__ import annotations

import math
import os
from typing import Callable

import pytest

keras = pytest.importorskip("keras")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from netc.catalog import LAYERS  # noqa: E402
from netc.catalog.spec import ShapeError  # noqa: E402
from netc.catalog.types import CHANNELS, LayerValue  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("NETC_CATALOG_EXAMPLES", "15"))
CODES = {"NC301", "NC302", "NC303", "NC307"}


# =========================================================================== running both sides

def bind(name: str, given_args: dict) -> dict:
    """Arguments by name with defaults filled, as the checker hands them to the catalog."""
    spec = LAYERS[name]
    unknown = set(given_args) - set(spec.arg_index)
    assert not unknown, f"strategy drew unknown args {unknown} for {name}"
    return {a.name: given_args.get(a.name, a.default) for a in spec.all_args}


def layer_value(name: str, given_args: dict) -> LayerValue:
    return LayerValue(name, bind(name, given_args))


def netc_result(name: str, args: dict, shapes: list):
    """(output shape, (trainable, non_trainable)), or the reason netc refuses."""
    spec = LAYERS[name]
    for arg in spec.all_args:
        if not arg.type.accepts(args[arg.name]):
            return f"type: {arg.name}={args[arg.name]!r} is not {arg.type.describe()}"
    inputs = shapes[0] if spec.inputs == "one" else shapes
    try:
        return tuple(spec.output_shape(args, inputs)), tuple(spec.param_counts(args, inputs))
    except ShapeError as error:
        assert error.code in CODES, error.code
        assert error.message and (error.arg is None or error.arg in spec.arg_index), error.arg
        return error


def to_keras(value):
    if isinstance(value, LayerValue):
        return keras_layer(value.name, value.args)
    return value


def keras_layer(name: str, args: dict):
    spec = LAYERS[name]
    cls = getattr(keras.layers, spec.keras_name or name)
    return cls(**{a.name: to_keras(args[a.name]) for a in spec.all_args if a.name != "name"})


def weight_count(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)


def keras_result(name: str, args: dict, shapes: list):
    """What Keras builds from the same configuration, or the exception it raises."""
    spec = LAYERS[name]
    try:
        layer = keras_layer(name, args)
        inputs = [keras.Input(shape) for shape in shapes]
        if spec.inputs == "one":
            out = layer(inputs[0])
        elif spec.inputs == "many":
            out = layer(inputs)
        else:
            out = layer(*inputs)
    except Exception as error:  # noqa: BLE001 - any Keras failure counts as a refusal
        return error
    counts = (weight_count(layer.trainable_weights), weight_count(layer.non_trainable_weights))
    assert sum(counts) == layer.count_params()
    if isinstance(out, (list, tuple)):  # several outputs: never equal to netc's one shape
        return [tuple(o.shape[1:]) for o in out], counts
    shape = tuple(out.shape[1:])
    if any(d is not None and d <= 0 for d in shape):
        # Keras sometimes builds an empty output symbolically (a "same" transposed convolution with
        # output_padding=0 and an even kernel on a size-1 input); netc reports it as NC302.
        return ValueError(f"Keras built an output with an empty dimension: {shape}")
    return shape, counts


def compare(name: str, case: tuple[dict, list]) -> None:
    given_args, shapes = case
    args = bind(name, given_args)
    ours, theirs = netc_result(name, args, shapes), keras_result(name, args, shapes)
    where = f"{name}({given_args}) on {shapes}"
    if isinstance(theirs, Exception):
        assert not isinstance(ours, tuple), f"Keras fails but netc accepts {where}: {theirs!r}; netc: {ours}"
    else:
        assert isinstance(ours, tuple), f"netc refuses {where} but Keras builds {theirs}: {ours}"
        assert ours == theirs, f"{where}: netc (shape, (trainable, non_trainable)) {ours} != Keras {theirs}"


# =========================================================================== strategy helpers

FORMATS = st.sampled_from([None, "channels_last", "channels_first"])
ACTIVATIONS = st.sampled_from([None, "relu", "tanh", "softmax", "gelu"])
SEEDS = st.one_of(st.none(), st.integers(0, 100))
UNIT = st.sampled_from([0.0, 0.1, 0.5])
# Mostly valid, sometimes out of Keras's range, to check the catalog's bounded types.
RATES = st.sampled_from([0.0, 0.1, 0.5, 0.5, 1.5])
SIZES = st.sampled_from([1, 2, 3, 4, 0])
CASES: dict[str, Callable[[], st.SearchStrategy]] = {}


def register(*names: str):
    """Register a strategy for layers; a composite receiving ``name`` first."""
    def wrap(fn):
        for name in names:
            CASES[name] = (lambda n=name: st.composite(lambda draw: fn(draw, n))())
        return fn
    return wrap


def dims(draw, n: int, low: int = 1, high: int = 5, unknown: bool = False) -> tuple:
    """``n`` sizes; with ``unknown`` some may be None."""
    size = st.integers(low, high)
    item = st.one_of(size, size, size, st.none()) if unknown else size
    return tuple(draw(item) for _ in range(n))


def join(spatial: tuple, channels, fmt) -> tuple:
    return (channels,) + spatial if fmt == "channels_first" else spatial + (channels,)


def int_or_tuple(draw, rank: int, low: int, high: int):
    if rank == 1 or draw(st.booleans()):
        value = draw(st.integers(low, high))
        return value if rank > 1 or draw(st.booleans()) else (value,)
    return tuple(draw(st.integers(low, high)) for _ in range(rank))


def off_rank(draw, shape: tuple) -> tuple:
    """Usually ``shape``; sometimes one axis more or fewer, to check rank errors."""
    choice = draw(st.sampled_from(["keep"] * 8 + ["more", "fewer"]))
    if choice == "more":
        return shape + (2,)
    if choice == "fewer" and len(shape) > 0:
        return shape[:-1]
    return shape


def valid_axis(draw, rank: int) -> int:
    """A non-batch Keras axis of a rank-``rank`` input, positive or negative."""
    axis = draw(st.integers(1, rank - 1))
    return axis - rank if draw(st.booleans()) else axis


# =========================================================================== core

@register("Dense")
def _dense(draw, name):
    shape = dims(draw, draw(st.integers(0, 3)), unknown=True)
    if shape and draw(st.booleans()):
        shape = shape[:-1] + (draw(st.integers(1, 5)),)
    return ({"units": draw(SIZES), "activation": draw(ACTIVATIONS), "use_bias": draw(st.booleans()),
             "lora_rank": draw(st.sampled_from([None, None, 1, 2]))}, [shape])


_EINSUM = [  # (equation, input rank with batch, output_shape builder, bias axes)
    ("ab,bc->ac", 2, lambda t, u: u, ["c", None]),
    ("abc,cd->abd", 3, lambda t, u: (t, u), ["d", None]),
    ("abc,cde->abde", 3, lambda t, u: (t, 2, u), ["de", "e", None]),
    ("...b,bc->...c", 3, lambda t, u: u, ["c", None]),
    ("...b,bc->...c", 2, lambda t, u: (u,), ["c", None]),
    ("abc,bd->adc", 3, lambda t, u: (u, None), ["d", "dc", None]),
]


@register("EinsumDense")
def _einsum(draw, name):
    equation, rank, out, biases = draw(st.sampled_from(_EINSUM))
    shape = dims(draw, rank - 1)
    units = draw(st.integers(1, 4))
    return ({"equation": equation, "output_shape": out(shape[0], units), "bias_axes": draw(st.sampled_from(biases)),
             "lora_rank": draw(st.sampled_from([None, 1]))}, [shape])


@register("Embedding")
def _embedding(draw, name):
    return ({"input_dim": draw(st.integers(1, 10)), "output_dim": draw(st.integers(1, 5)),
             "mask_zero": draw(st.booleans()), "lora_rank": draw(st.sampled_from([None, 1, 2]))},
            [dims(draw, draw(st.integers(0, 2)), unknown=True)])


@register("Identity", "Masking", "GaussianDropout", "GaussianNoise", "ActivityRegularization", "Rescaling",
          "Activation", "ReLU", "LeakyReLU", "ELU")
def _elementwise(draw, name):
    shape = dims(draw, draw(st.integers(0, 3)), unknown=True)
    args = {
        "Identity": {}, "Masking": {"mask_value": draw(st.sampled_from([0.0, -1.0]))},
        "GaussianDropout": {"rate": draw(UNIT), "seed": draw(SEEDS)},
        "GaussianNoise": {"stddev": draw(st.sampled_from([0.0, 0.1, 0.5, 2.0])), "seed": draw(SEEDS)},
        "ActivityRegularization": {"l1": draw(UNIT), "l2": draw(UNIT)},
        "Rescaling": {"scale": 1 / 255, "offset": draw(st.sampled_from([0.0, -1.0]))},
        "Activation": {"activation": draw(st.sampled_from(["relu", "sigmoid", "linear", "swish"]))},
        "ReLU": {"max_value": draw(st.sampled_from([None, 6.0])), "negative_slope": draw(UNIT),
                 "threshold": draw(UNIT)},
        "LeakyReLU": {"negative_slope": draw(st.sampled_from([0.0, 0.1, 0.3, -0.1]))},
        "ELU": {"alpha": draw(st.sampled_from([1.0, 0.5]))},
    }[name]
    return args, [shape]


# =========================================================================== convolution

def _conv_case(rank: int, kind: str):
    def strategy(draw, name):
        fmt = draw(FORMATS)
        high = 5 if rank == 3 else 8
        channels = draw(st.integers(1, 4))
        shape = off_rank(draw, join(dims(draw, rank, 1, high), channels, fmt))
        args = {"kernel_size": int_or_tuple(draw, rank, 1, 3), "data_format": fmt,
                "use_bias": draw(st.booleans()), "activation": draw(ACTIVATIONS)}
        if kind != "depthwise":
            args["filters"] = draw(SIZES)
        if kind in ("separable", "depthwise"):
            args["depth_multiplier"] = draw(st.integers(1, 2))
        mode = draw(st.sampled_from(["strides", "strides", "dilation", "both"]))
        args["strides"] = int_or_tuple(draw, rank, 1, 3) if mode != "dilation" else 1
        args["dilation_rate"] = int_or_tuple(draw, rank, 1, 2) if mode != "strides" else 1
        if mode == "both" and kind in ("separable", "depthwise"):
            args["dilation_rate"] = 1  # Keras accepts strides and dilation together here
        paddings = ["valid", "same"] + (["causal"] if (rank, kind) == (1, "conv") else [])
        args["padding"] = draw(st.sampled_from(paddings))
        if kind == "conv":
            args["groups"] = draw(st.sampled_from([1, 1, 2]))
        if kind == "transpose":
            args["output_padding"] = draw(st.one_of(st.none(), st.integers(0, 2)))
        return args, [shape]
    return strategy


for _rank in (1, 2, 3):
    register(f"Conv{_rank}D")(_conv_case(_rank, "conv"))
    register(f"Conv{_rank}DTranspose")(_conv_case(_rank, "transpose"))
for _rank in (1, 2):
    register(f"SeparableConv{_rank}D")(_conv_case(_rank, "separable"))
    register(f"DepthwiseConv{_rank}D")(_conv_case(_rank, "depthwise"))


# =========================================================================== pooling

def _pooling_case(rank: int, is_global: bool):
    def strategy(draw, name):
        fmt = draw(FORMATS)
        shape = off_rank(draw, join(dims(draw, rank, 1, 5 if rank == 3 else 8, unknown=True),
                                    draw(st.integers(1, 3)), fmt))
        if is_global:
            return {"data_format": fmt, "keepdims": draw(st.booleans())}, [shape]
        args = {"data_format": fmt, "padding": draw(st.sampled_from(["valid", "same"])),
                "strides": int_or_tuple(draw, rank, 1, 3) if draw(st.booleans()) else None}
        if name.startswith("Average") or draw(st.booleans()):
            args["pool_size"] = int_or_tuple(draw, rank, 1, 3)
        return args, [shape]
    return strategy


for _rank in (1, 2, 3):
    for _mode in ("Max", "Average"):
        register(f"{_mode}Pooling{_rank}D")(_pooling_case(_rank, False))
        register(f"Global{_mode}Pooling{_rank}D")(_pooling_case(_rank, True))


# =========================================================================== normalization

@register("BatchNormalization")
def _batch_norm(draw, name):
    fmt = draw(st.sampled_from(["channels_last", "channels_first"]))
    shape = dims(draw, draw(st.integers(1, 3)), 1, 4)
    rank = len(shape) + 1
    axis = draw(st.sampled_from([CHANNELS, CHANNELS, -1, 1, rank - 1, rank, 0]))
    if axis is CHANNELS:  # what the checker does with the model's data_format
        axis = 1 if fmt == "channels_first" and rank >= 3 else -1
    return ({"axis": axis, "center": draw(st.booleans()), "scale": draw(st.booleans()),
             "renorm": draw(st.booleans())}, [shape])


@register("LayerNormalization", "UnitNormalization", "Softmax")
def _axes_layers(draw, name):
    shape = dims(draw, draw(st.integers(1, 3)), 1, 4)
    rank = len(shape) + 1
    if draw(st.booleans()) and rank > 2:
        axis = tuple(draw(st.lists(st.integers(1, rank - 1), min_size=1, max_size=rank - 1, unique=True)))
    else:
        axis = valid_axis(draw, rank)
    args = {"axis": axis}
    if name == "LayerNormalization":
        args.update(center=draw(st.booleans()), scale=draw(st.booleans()))
    return args, [shape]


@register("GroupNormalization")
def _group_norm(draw, name):
    shape = dims(draw, draw(st.integers(1, 3)), 1, 8)
    return ({"groups": draw(st.sampled_from([-1, 1, 2, 3, 4, 32])), "axis": valid_axis(draw, len(shape) + 1),
             "center": draw(st.booleans()), "scale": draw(st.booleans())}, [shape])


# =========================================================================== regularization

@register("Dropout", "AlphaDropout")
def _dropout(draw, name):
    shape = dims(draw, draw(st.integers(0, 3)), unknown=True)
    noise = None
    if draw(st.booleans()):
        noise = tuple(draw(st.sampled_from([None, 1])) if d is None else draw(st.sampled_from([None, 1, d]))
                      for d in (None,) + shape)
    return {"rate": draw(RATES), "noise_shape": noise, "seed": draw(SEEDS)}, [shape]


def _spatial_dropout_case(rank: int):
    def strategy(draw, name):
        fmt = draw(FORMATS)
        args = {"rate": draw(UNIT), "seed": draw(SEEDS)}
        if rank > 1:
            args["data_format"] = fmt
        return args, [off_rank(draw, join(dims(draw, rank, 1, 4), 2, fmt if rank > 1 else None))]
    return strategy


for _rank in (1, 2, 3):
    register(f"SpatialDropout{_rank}D")(_spatial_dropout_case(_rank))


# =========================================================================== reshaping

@register("Flatten")
def _flatten(draw, name):
    return {"data_format": draw(FORMATS)}, [dims(draw, draw(st.integers(0, 3)), unknown=True)]


@register("Reshape")
def _reshape(draw, name):
    shape = dims(draw, draw(st.integers(1, 3)), 1, 4, unknown=True)
    size = math.prod(d or 1 for d in shape)
    divisor = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
    target = draw(st.sampled_from([(size,), (-1,), (divisor, -1), (divisor, size // divisor),
                                   (-1, divisor, 1), (size + 1,), (-1, -1)]))
    return {"target_shape": target}, [shape]


@register("Permute")
def _permute(draw, name):
    shape = dims(draw, draw(st.integers(1, 3)), unknown=True)
    dims_ = tuple(draw(st.permutations(range(1, len(shape) + 1))))
    return {"dims": dims_}, [off_rank(draw, shape)]


@register("RepeatVector")
def _repeat_vector(draw, name):
    return {"n": draw(SIZES)}, [off_rank(draw, dims(draw, 1, unknown=True))]


def _amounts(draw, rank: int, low: int, high: int):
    """Any of Keras's padding/cropping spellings."""
    if rank == 1:
        return int_or_tuple(draw, 2, low, high) if draw(st.booleans()) else draw(st.integers(low, high))
    form = draw(st.sampled_from(["int", "per_axis", "pairs"]))
    if form == "int":
        return draw(st.integers(low, high))
    if form == "per_axis":
        return tuple(draw(st.integers(low, high)) for _ in range(rank))
    return tuple((draw(st.integers(low, high)), draw(st.integers(low, high))) for _ in range(rank))


def _spatial_case(family: str, rank: int):
    def strategy(draw, name):
        fmt = draw(FORMATS) if rank > 1 or family == "ZeroPadding" else None
        shape = off_rank(draw, join(dims(draw, rank, 1, 5, unknown=True), 2, fmt))
        args = {"data_format": fmt} if fmt is not None or rank > 1 or family == "ZeroPadding" else {}
        if family == "ZeroPadding":
            args["padding"] = _amounts(draw, rank, 0, 2)
        elif family == "Cropping":
            args["cropping"] = _amounts(draw, rank, 0, 2)
        else:
            args["size"] = draw(st.integers(1, 3)) if rank == 1 else int_or_tuple(draw, rank, 1, 3)
            if rank == 2:
                args["interpolation"] = draw(st.sampled_from(["nearest", "bilinear"]))
        return args, [shape]
    return strategy


for _family in ("ZeroPadding", "Cropping", "UpSampling"):
    for _rank in (1, 2, 3):
        register(f"{_family}{_rank}D")(_spatial_case(_family, _rank))


# =========================================================================== merging

@register("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
def _elementwise_merge(draw, name):
    base = dims(draw, draw(st.integers(1, 3)), 2, 4)
    count = draw(st.sampled_from([2, 2, 3])) if name != "Subtract" else draw(st.sampled_from([2, 2, 2, 3]))
    shapes = []
    for _ in range(count):
        variant = draw(st.sampled_from(["same", "same", "ones", "suffix", "clash", "unknown"]))
        shape = list(base)
        if variant == "ones":
            shape[draw(st.integers(0, len(base) - 1))] = 1
        elif variant == "suffix":
            shape = shape[draw(st.integers(0, len(base) - 1)):]
        elif variant == "clash":
            shape[-1] += 1
        elif variant == "unknown":
            shape[0] = None
        shapes.append(tuple(shape))
    return {}, shapes


@register("Concatenate")
def _concatenate(draw, name):
    base = dims(draw, draw(st.integers(1, 3)), 1, 4)
    rank = len(base) + 1
    axis = valid_axis(draw, rank)
    index = axis % rank - 1
    shapes = []
    for _ in range(draw(st.integers(1, 3))):
        shape = list(base)
        shape[index] = draw(st.integers(1, 4))
        variant = draw(st.sampled_from(["ok"] * 6 + ["clash", "rank", "unknown"]))
        if variant == "clash" and len(shape) > 1:
            shape[(index + 1) % len(shape)] += 1
        elif variant == "rank":
            shape.append(1)
        elif variant == "unknown":
            shape[draw(st.integers(0, len(shape) - 1))] = None
        shapes.append(tuple(shape))
    return {"axis": axis}, shapes


@register("Dot")
def _dot(draw, name):
    rank = draw(st.integers(2, 3))
    a, b = list(dims(draw, rank - 1, 1, 4)), list(dims(draw, rank - 1, 1, 4))
    i, j = valid_axis(draw, rank), valid_axis(draw, rank)
    if draw(st.integers(0, 4)):  # mostly make the contracted sizes agree
        b[j % rank - 1] = a[i % rank - 1]
    axes = i if i == j and draw(st.booleans()) else (i, j)
    return {"axes": axes, "normalize": draw(st.booleans())}, [tuple(a), tuple(b)]


# =========================================================================== activations

@register("PReLU")
def _prelu(draw, name):
    shape = dims(draw, draw(st.integers(1, 3)), 1, 4)
    shared = draw(st.lists(st.integers(1, len(shape)), max_size=len(shape), unique=True))
    return {"shared_axes": tuple(shared) if shared else None}, [shape]


# =========================================================================== recurrent

def _rnn_args(draw, name: str, steps) -> dict:
    args = {"units": draw(st.integers(1, 4)), "return_sequences": draw(st.booleans()),
            "use_bias": draw(st.booleans()), "go_backwards": draw(st.booleans()),
            "dropout": draw(UNIT), "activation": draw(st.sampled_from(["tanh", "relu"]))}
    if steps is not None:
        args["unroll"] = draw(st.booleans())
    if name == "GRU":
        args["reset_after"] = draw(st.booleans())
    return args


@register("SimpleRNN", "LSTM", "GRU")
def _rnn(draw, name):
    steps = draw(st.one_of(st.none(), st.integers(1, 4)))
    shape = off_rank(draw, (steps, draw(st.integers(1, 4))))
    return _rnn_args(draw, name, steps), [shape]


def _conv_lstm_args(draw, rank: int, fmt) -> dict:
    mode = draw(st.sampled_from(["strides", "dilation", "both"]))
    return {"filters": draw(st.integers(1, 3)), "kernel_size": int_or_tuple(draw, rank, 1, 3),
            "strides": int_or_tuple(draw, rank, 1, 2) if mode != "dilation" else 1,
            "dilation_rate": int_or_tuple(draw, rank, 1, 2) if mode != "strides" else 1,
            "padding": draw(st.sampled_from(["valid", "same"])), "data_format": fmt,
            "return_sequences": draw(st.booleans()), "use_bias": draw(st.booleans())}


def _conv_lstm_case(rank: int):
    def strategy(draw, name):
        fmt = draw(FORMATS)
        shape = (draw(st.integers(1, 3)),) + join(dims(draw, rank, 1, 4 if rank == 3 else 6), draw(st.integers(1, 3)),
                                                 fmt)
        return _conv_lstm_args(draw, rank, fmt), [off_rank(draw, shape)]
    return strategy


for _rank in (1, 2, 3):
    register(f"ConvLSTM{_rank}D")(_conv_lstm_case(_rank))


@register("Bidirectional")
def _bidirectional(draw, name):
    inner = draw(st.sampled_from(["SimpleRNN", "LSTM", "GRU", "ConvLSTM1D"]))
    if inner == "ConvLSTM1D":
        fmt = draw(FORMATS)
        forward = _conv_lstm_args(draw, 1, fmt)
        shape = (draw(st.integers(1, 3)),) + join((draw(st.integers(3, 6)),), 2, fmt)
        size_key = "filters"
    else:
        steps = draw(st.integers(1, 4))
        forward, shape, size_key = _rnn_args(draw, inner, steps), (steps, draw(st.integers(1, 4))), "units"
    forward["go_backwards"] = False
    args = {"layer": layer_value(inner, forward),
            "merge_mode": draw(st.sampled_from(["concat", "sum", "mul", "ave"]))}
    if draw(st.booleans()):
        backward = dict(forward, go_backwards=True)
        if draw(st.booleans()):
            backward["use_bias"] = not forward["use_bias"]  # same shape, other weights
        args["backward_layer"] = layer_value(inner, backward)
        assert backward[size_key] == forward[size_key]
    return args, [shape]


@register("TimeDistributed")
def _time_distributed(draw, name):
    steps = draw(st.one_of(st.none(), st.integers(1, 3)))
    inner = draw(st.sampled_from(["Dense", "Conv2D", "Flatten", "Dropout", "BatchNormalization"]))
    if inner == "Conv2D":
        value = layer_value("Conv2D", {"filters": draw(st.integers(1, 3)), "kernel_size": draw(st.integers(1, 3))})
        shape = (steps,) + dims(draw, 3, 1, 5)
    else:
        given_args = {"Dense": {"units": draw(st.integers(1, 3))}, "Dropout": {"rate": 0.5},
                      "Flatten": {}, "BatchNormalization": {"axis": -1}}[inner]
        value = layer_value(inner, given_args)
        shape = (steps,) + dims(draw, draw(st.integers(1, 2)), 1, 4)
    return {"layer": value}, [off_rank(draw, shape)]


# =========================================================================== attention

def _attention_shapes(draw, same_dims: bool) -> list:
    middle = dims(draw, draw(st.integers(0, 1)), 1, 3)
    q_steps, v_steps = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dim = draw(st.integers(1, 4))
    value_dim = dim if same_dims else draw(st.integers(1, 4))
    shapes = [middle + (q_steps, dim), middle + (v_steps, value_dim)]
    if draw(st.booleans()):
        shapes.append(middle + (v_steps, dim if same_dims else draw(st.integers(1, 4))))
    return shapes


@register("MultiHeadAttention")
def _mha(draw, name):
    output_shape = draw(st.sampled_from([None, None, 3, (2,), (2, 3)]))
    return ({"num_heads": draw(st.integers(1, 3)), "key_dim": draw(st.integers(1, 4)),
             "value_dim": draw(st.one_of(st.none(), st.integers(1, 4))), "use_bias": draw(st.booleans()),
             "output_shape": output_shape, "use_gate": draw(st.booleans())},
            _attention_shapes(draw, same_dims=False))


@register("Attention", "AdditiveAttention")
def _attention(draw, name):
    args = {"use_scale": draw(st.booleans())}
    if name == "Attention":
        args["score_mode"] = draw(st.sampled_from(["dot", "concat"]))
    shapes = _attention_shapes(draw, same_dims=True)
    if len(shapes) == 3 and draw(st.booleans()):  # with a key, the value may have its own size
        shapes[1] = shapes[1][:-1] + (draw(st.integers(1, 4)),)
    return args, shapes


# =========================================================================== preprocessing

@register("Normalization")
def _normalization(draw, name):
    shape = dims(draw, draw(st.integers(1, 3)), 1, 4)
    rank = len(shape) + 1
    axis = draw(st.sampled_from([-1, None, "tuple"]))
    if axis == "tuple":
        axis = tuple(draw(st.lists(st.integers(1, rank - 1), min_size=1, max_size=rank - 1, unique=True)))
    args = {"axis": axis, "invert": draw(st.booleans())}
    if draw(st.booleans()):
        args.update(mean=0.5, variance=2.0)
    return args, [shape]


_IMAGE_ARGS = {
    "Resizing": lambda draw: {"height": draw(st.integers(1, 6)), "width": draw(st.integers(1, 6)),
                              "interpolation": draw(st.sampled_from(["bilinear", "nearest"])),
                              "crop_to_aspect_ratio": draw(st.booleans())},
    "CenterCrop": lambda draw: {"height": draw(st.integers(1, 6)), "width": draw(st.integers(1, 6))},
    "RandomCrop": lambda draw: {"height": draw(st.integers(1, 6)), "width": draw(st.integers(1, 6)),
                                "seed": draw(SEEDS)},
    "RandomFlip": lambda draw: {"mode": draw(st.sampled_from(["horizontal", "vertical",
                                                              "horizontal_and_vertical"]))},
    "RandomRotation": lambda draw: {"factor": draw(st.sampled_from([0.1, (-0.2, 0.3)]))},
    "RandomZoom": lambda draw: {"height_factor": 0.2, "width_factor": draw(st.sampled_from([None, (-0.1, 0.1)]))},
    "RandomTranslation": lambda draw: {"height_factor": 0.1, "width_factor": (-0.2, 0.2)},
    "RandomContrast": lambda draw: {"factor": draw(st.sampled_from([0.2, (0.1, 0.5)]))},
    "RandomBrightness": lambda draw: {"factor": draw(st.sampled_from([0.2, (-0.1, 0.3)])),
                                      "value_range": (0, 1)},
}


@register(*_IMAGE_ARGS)
def _image(draw, name):
    args = _IMAGE_ARGS[name](draw)
    fmt = None
    if "data_format" in LAYERS[name].arg_index:
        fmt = args["data_format"] = draw(FORMATS)
    return args, [join(dims(draw, 2, 2, 8), draw(st.integers(1, 3)), fmt)]


# =========================================================================== the tests

def test_every_layer_has_a_strategy():
    assert set(CASES) == set(LAYERS)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_shapes_and_params_match_keras(name):
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(CASES[name]())
    def run(case):
        compare(name, case)

    keras.backend.clear_session()
    run()


# =========================================================================== exact numbers

def netc(name: str, shape, **given_args):
    args = bind(name, given_args)
    spec = LAYERS[name]
    return spec.output_shape(args, shape), spec.param_counts(args, shape)


def test_resnet_stem():
    """ResNet50's stem: ZeroPadding2D(3), Conv2D(64, 7, strides=2), BN, ZeroPadding2D(1), MaxPooling2D(3, 2)."""
    assert netc("ZeroPadding2D", (224, 224, 3), padding=3)[0] == (230, 230, 3)
    assert netc("Conv2D", (230, 230, 3), filters=64, kernel_size=7, strides=2) == ((112, 112, 64), (9472, 0))
    assert netc("BatchNormalization", (112, 112, 64), axis=-1) == ((112, 112, 64), (128, 128))
    assert netc("ZeroPadding2D", (112, 112, 64), padding=1)[0] == (114, 114, 64)
    assert netc("MaxPooling2D", (114, 114, 64), pool_size=3, strides=2)[0] == (56, 56, 64)
    assert netc("GlobalAveragePooling2D", (7, 7, 2048))[0] == (2048,)
    assert netc("Dense", (2048,), units=1000) == ((1000,), (2049000, 0))


def test_channels_first():
    shape, params = netc("Conv2D", (3, 32, 32), filters=32, kernel_size=3, use_bias=False,
                         data_format="channels_first")
    assert (shape, params) == ((32, 30, 30), (864, 0))
    assert netc("BatchNormalization", shape, axis=1) == ((32, 30, 30), (64, 64))
    assert netc("Flatten", shape, data_format="channels_first")[0] == (28800,)


def test_small_sep_conv_from_language_md():
    assert netc("SeparableConv2D", (64, 64, 3), filters=32, kernel_size=3) == ((62, 62, 32), (155, 0))
    assert netc("LSTM", (None, 64), units=128) == ((128,), (98816, 0))
    assert netc("Bidirectional", (10, 8), layer=layer_value("LSTM", {"units": 4})) == ((8,), (416, 0))


def test_frozen_layer_counts_all_weights_as_non_trainable():
    assert netc("Dense", (4,), units=2, trainable=False) == ((2,), (0, 10))


def test_errors_point_at_the_argument():
    with pytest.raises(ShapeError) as error:
        netc("Conv2D", (5, 5, 3), filters=8, kernel_size=7)
    assert (error.value.code, error.value.arg) == ("NC302", "kernel_size") and error.value.hint
    with pytest.raises(ShapeError) as error:
        netc("Dense", (), units=3)
    assert error.value.code == "NC303" and "rank 1" in error.value.message and "(None,)" in error.value.message
    with pytest.raises(ShapeError) as error:
        netc("Conv2D", (28, 28), filters=8, kernel_size=3)
    assert error.value.code == "NC303" and "rank 4" in error.value.message and "rank 3" in error.value.message
    with pytest.raises(ShapeError) as error:
        LAYERS["Add"].output_shape({}, [(4, 8), (4, 9)])
    assert error.value.code == "NC301"
    with pytest.raises(ShapeError) as error:
        LAYERS["Concatenate"].output_shape({"axis": -1}, [(4, 8), (5, 9)])
    assert error.value.code == "NC301"


STRICTER = [  # (layer, args, input shapes, why netc refuses what Keras's symbolic build accepts)
    ("Resizing", {"height": 4, "width": 4}, [(8, 8)],
     "a rank-3 input is an unbatched image to Keras: the batch axis would be read as the height"),
    ("RandomFlip", {}, [(8,)], "flipping a non-image fails when the model runs"),
    ("LSTM", {"units": 2, "unroll": True}, [(None, 3)], "an unknown number of steps cannot be unrolled at run time"),
    ("LSTM", {"units": 2, "return_state": True}, [(5, 3)], "several outputs; netc layers have one"),
    ("Bidirectional", {"layer": layer_value("LSTM", {"units": 2}), "merge_mode": None}, [(5, 3)],
     "two outputs; netc layers have one"),
    ("Bidirectional", {"layer": layer_value("LSTM", {"units": 2}),
                       "backward_layer": layer_value("LSTM", {"units": 3, "go_backwards": True})}, [(5, 3)],
     "Keras computes the merged shape from the forward layer alone, so it would report (4,) for a (5,) output"),
    ("Softmax", {"axis": 5}, [(4, 4)], "an out-of-range axis fails when the model runs"),
    ("Concatenate", {"axis": 0}, [(4,), (4,)], "concatenating along the batch axis"),
    ("Dropout", {"rate": 0.5, "noise_shape": (None, 3)}, [(4,)], "a noise_shape that does not broadcast fails at run time"),
    ("Attention", {}, [(5, 3), (7, 6)], "query and key sizes differ: the dot product fails at run time"),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 2}, [(5, 4, 6), (7, 8)], "query and value ranks differ"),
]


@pytest.mark.parametrize("name,given_args,shapes,why", STRICTER, ids=[f"{c[0]}-{i}" for i, c in enumerate(STRICTER)])
def test_stricter_than_keras(name, given_args, shapes, why):
    """netc refuses these although Keras builds them symbolically; if Keras starts refusing one, drop it here."""
    args = bind(name, given_args)
    assert isinstance(netc_result(name, args, shapes), ShapeError), why
    assert not isinstance(keras_result(name, args, shapes), Exception), "Keras refuses it now: remove the entry"
