"""Convolution layers: Conv, ConvTranspose, SeparableConv and DepthwiseConv in 1-3D.

Keras builds all of them from four base classes parameterized by rank; so
does this module: ``_KINDS`` describes each family once (its arguments, how it
maps input channels to output channels, its weights) and ``conv_spec`` makes
the spec of one family at one rank.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from netc.catalog import args as A
from netc.catalog import shapes as S
from netc.catalog.spec import Arg, LayerSpec, ShapeError
from netc.catalog.types import NON_NEGATIVE_INT, POSITIVE_INT, int_or_tuple, optional

CATEGORY = "convolution"


# --------------------------------------------------------------------------- arguments

def _filters() -> Arg:
    return Arg("filters", POSITIVE_INT, doc="Number of output channels.")


def _kernel_size(rank: int) -> Arg:
    return A.window("kernel_size", rank, doc="Size of the convolution window on each spatial axis.")


def _strides(rank: int) -> Arg:
    return A.window("strides", rank, 1, "Step of the window on each spatial axis.")


def _dilation(rank: int) -> Arg:
    return A.window("dilation_rate", rank, 1, "Spacing between kernel elements (atrous convolution).")


def _depth_multiplier() -> Arg:
    return Arg("depth_multiplier", POSITIVE_INT, 1, "Output channels per input channel of the depthwise step.")


def _conv_args(rank: int) -> tuple[Arg, ...]:
    return (
        _filters(), _kernel_size(rank), _strides(rank), A.padding(causal=rank == 1), A.data_format(),
        _dilation(rank),
        Arg("groups", POSITIVE_INT, 1, "Number of channel groups convolved separately; divides channels and filters."),
        A.activation(), A.use_bias(),
        *A.weight_args(("kernel", "glorot_uniform"), ("bias", "zeros"), activity=True),
    )


def _transpose_args(rank: int) -> tuple[Arg, ...]:
    output_padding = Arg("output_padding", optional(int_or_tuple(rank, NON_NEGATIVE_INT)), None,
                         "Extra size added to one side of each output axis; less than strides.")
    # Keras quirk: Conv3DTranspose takes data_format before output_padding.
    middle = (A.data_format(), output_padding) if rank == 3 else (output_padding, A.data_format())
    return (
        _filters(), _kernel_size(rank), _strides(rank), A.padding(), *middle, _dilation(rank),
        A.activation(), A.use_bias(),
        *A.weight_args(("kernel", "glorot_uniform"), ("bias", "zeros"), activity=True),
    )


def _separable_args(rank: int) -> tuple[Arg, ...]:
    return (
        _filters(), _kernel_size(rank), _strides(rank), A.padding(), A.data_format(), _dilation(rank),
        _depth_multiplier(), A.activation(), A.use_bias(),
        *A.weight_args(("depthwise", "glorot_uniform"), ("pointwise", "glorot_uniform"), ("bias", "zeros"),
                       activity=True),
    )


def _depthwise_args(rank: int) -> tuple[Arg, ...]:
    return (
        _kernel_size(rank), _strides(rank), A.padding(), _depth_multiplier(), A.data_format(), _dilation(rank),
        A.activation(), A.use_bias(),
        *A.weight_args(("depthwise", "glorot_uniform"), ("bias", "zeros"), activity=True),
    )


# --------------------------------------------------------------------------- shared shape logic

def conv_input(layer: str, rank: int, args: dict, shape, leading: tuple = ()) -> tuple[tuple, int]:
    """(spatial dims, channels) of a rank-``rank`` convolution input, checked.

    ``leading`` names axes before the convolved ones (ConvLSTM's time axis).
    """
    S.expect_rank(layer, shape, rank + 2 + len(leading), S.layout(rank, args, leading),
                  hint=f"{layer} convolves {rank} spatial axes plus a channel axis; "
                       "Reshape the input or pick the convolution of matching rank.")
    inner = tuple(shape[len(leading):])
    spatial, channels = S.split_channels(inner, args)
    S.expect_known(layer, inner, S.channel_index(inner, args), "the channel axis")
    return spatial, channels


def conv_spatial(args: dict, spatial: tuple, rank: int) -> tuple:
    """Output spatial dims of a (non-transposed) convolution."""
    kernel = S.as_tuple(args["kernel_size"], rank)
    strides = S.as_tuple(args["strides"], rank)
    dilation = S.as_tuple(args["dilation_rate"], rank)
    return tuple(S.conv_length(n, k, s, args["padding"], d)
                 for n, k, s, d in zip(spatial, kernel, strides, dilation))


def check_strided_dilation(layer: str, args: dict, rank: int) -> None:
    """Keras refuses strides > 1 together with dilation_rate > 1 (Conv, ConvTranspose, ConvLSTM)."""
    strides = S.as_tuple(args["strides"], rank)
    dilation = S.as_tuple(args["dilation_rate"], rank)
    if max(strides) > 1 and max(dilation) > 1:
        raise ShapeError(
            f"{layer} does not support strides > 1 together with dilation_rate > 1. Received: "
            f"strides={S.show_value(args['strides'])} and dilation_rate={S.show_value(args['dilation_rate'])}.",
            code="NC307", arg="dilation_rate",
            hint="Use strides=1 with a dilation, or dilation_rate=1 with strides.")


def _check_groups(layer: str, args: dict, channels: int) -> None:
    groups = args["groups"]
    for what, n in (("filters", args["filters"]), ("input channels", channels)):
        if n % groups:
            raise ShapeError(
                f"{layer} received groups={groups}, but the number of {what} ({n}) is not divisible by it.",
                code="NC307", arg="groups",
                hint="Choose groups dividing both filters and the input's channels.")


def _check_output_padding(layer: str, args: dict, rank: int) -> None:
    if args["output_padding"] is None:
        return
    pads = S.as_tuple(args["output_padding"], rank)
    strides = S.as_tuple(args["strides"], rank)
    if any(p >= s for p, s in zip(pads, strides)):
        raise ShapeError(
            f"{layer} received output_padding={S.show_value(args['output_padding'])}, but each value must be "
            f"strictly less than the matching strides ({S.show_value(args['strides'])}).",
            code="NC307", arg="output_padding", hint="Lower output_padding below strides.")


def _transpose_spatial(args: dict, spatial: tuple, rank: int) -> tuple:
    kernel = S.as_tuple(args["kernel_size"], rank)
    strides = S.as_tuple(args["strides"], rank)
    dilation = S.as_tuple(args["dilation_rate"], rank)
    pads = (None,) * rank if args["output_padding"] is None else S.as_tuple(args["output_padding"], rank)
    return tuple(S.transpose_length(n, k, s, args["padding"], p, d)
                 for n, k, s, p, d in zip(spatial, kernel, strides, pads, dilation))


# --------------------------------------------------------------------------- the four families

@dataclass(frozen=True)
class _Kind:
    """What distinguishes one convolution family from another."""

    name: str  # e.g. "Conv{n}DTranspose"
    build_args: Callable[[int], tuple]
    doc: str
    out_channels: Callable[[dict, int], int]
    spatial: Callable[[dict, tuple, int], tuple]
    weights: Callable[[dict, int, int], int]  # (args, kernel volume, input channels) -> weight count
    bias: Callable[[dict, int], int]  # (args, input channels) -> bias size
    check: Callable[[str, dict, int, int], None]  # (layer, args, rank, channels)


def _check_conv(layer, args, rank, channels):
    check_strided_dilation(layer, args, rank)
    _check_groups(layer, args, channels)


def _check_transpose(layer, args, rank, channels):
    _check_output_padding(layer, args, rank)
    check_strided_dilation(layer, args, rank)


def _no_check(layer, args, rank, channels):
    pass


_KINDS = {
    "conv": _Kind(
        "Conv{n}D", _conv_args,
        "{n}D convolution layer: convolves a learned kernel over the input's {axes} to produce output channels.",
        lambda a, c: a["filters"], conv_spatial,
        lambda a, k, c: k * (c // a["groups"]) * a["filters"],
        lambda a, c: a["filters"], _check_conv),
    "transpose": _Kind(
        "Conv{n}DTranspose", _transpose_args,
        "{n}D transposed convolution layer (deconvolution): upsamples the input's {axes} with a learned kernel.",
        lambda a, c: a["filters"], _transpose_spatial,
        lambda a, k, c: k * c * a["filters"],
        lambda a, c: a["filters"], _check_transpose),
    "separable": _Kind(
        "SeparableConv{n}D", _separable_args,
        "{n}D separable convolution: a depthwise convolution of each channel over the {axes}, then a "
        "pointwise (1x1) convolution that mixes channels.",
        lambda a, c: a["filters"], conv_spatial,
        lambda a, k, c: k * c * a["depth_multiplier"] + c * a["depth_multiplier"] * a["filters"],
        lambda a, c: a["filters"], _no_check),
    "depthwise": _Kind(
        "DepthwiseConv{n}D", _depthwise_args,
        "{n}D depthwise convolution: convolves each input channel over the {axes} with its own "
        "depth_multiplier kernels, without mixing channels.",
        lambda a, c: a["depth_multiplier"] * c, conv_spatial,
        lambda a, k, c: k * c * a["depth_multiplier"],
        lambda a, c: a["depth_multiplier"] * c, _no_check),
}

_AXES = {1: "steps", 2: "height and width", 3: "depth, height and width"}


def conv_spec(kind_name: str, rank: int) -> LayerSpec:
    """The spec of one convolution family at one rank."""
    kind = _KINDS[kind_name]
    name = kind.name.format(n=rank)

    def output_shape(args: dict, shape) -> tuple:
        spatial, channels = conv_input(name, rank, args, shape)
        kind.check(name, args, rank, channels)
        out = S.join_channels(kind.spatial(args, spatial, rank), kind.out_channels(args, channels), args)
        return S.expect_positive(name, shape, out, "kernel_size", S.window_hint("kernel_size"),
                                 S.received(args, "kernel_size", "strides", "dilation_rate", "padding"))

    def params(args: dict, shape) -> tuple[int, int]:
        _, channels = S.split_channels(shape, args)
        volume = S.prod(S.as_tuple(args["kernel_size"], rank))
        bias = kind.bias(args, channels) if args["use_bias"] else 0
        return kind.weights(args, volume, channels) + bias, 0

    return LayerSpec(name, CATEGORY, kind.build_args(rank), output_shape, params,
                     doc=kind.doc.format(n=rank, axes=_AXES[rank]))


SPECS = [
    *(conv_spec("conv", n) for n in (1, 2, 3)),
    *(conv_spec("transpose", n) for n in (1, 2, 3)),
    *(conv_spec("separable", n) for n in (1, 2)),
    *(conv_spec("depthwise", n) for n in (1, 2)),
]
