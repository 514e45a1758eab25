"""Shape arithmetic shared by the layer families, written the way Keras computes it.

Shapes exclude the batch dimension (``(28, 28, 1)``), but every message shows
the batch dimension and counts it in the rank, as Keras does: a Dense layer on
``(None, 32)`` sees a rank-2 input. ``None`` is an unknown size and stays
unknown through arithmetic. The formulas mirror ``keras.src.ops.operation_utils``
and ``keras.src.backend.common.backend_utils`` so netc agrees with Keras to the
element; ``tests/test_catalog_properties.py`` checks it does.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

from netc.catalog.spec import ShapeError
from netc.catalog.types import describe_value

CHANNELS_FIRST = "channels_first"
_SPATIAL_NAMES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}


# --------------------------------------------------------------------------- display

def show(shape: Sequence) -> str:
    """A batchless shape as Keras prints it, batch included: ``(None, 28, 28)``."""
    dims = ("None",) + tuple("None" if d is None else str(d) for d in shape)
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def show_value(value) -> str:
    """An argument value in spec spelling, for messages."""
    return describe_value(value)


def rank(shape: Sequence) -> int:
    """The rank Keras reports: batch dimension included."""
    return len(shape) + 1


def prod(dims: Iterable[int]) -> int:
    return math.prod(dims)


# --------------------------------------------------------------------------- data format

def channels_first(args: dict) -> bool:
    """Whether the layer reads channels first; ``None`` (not set) means channels_last."""
    return args.get("data_format") == CHANNELS_FIRST


def channel_index(shape: Sequence, args: dict) -> int:
    """Index of the feature axis in a batchless shape."""
    return 0 if channels_first(args) else len(shape) - 1


def split_channels(shape: Sequence, args: dict) -> tuple[tuple, int | None]:
    """(spatial dims, channels) of a batchless shape under the layer's data format."""
    shape = tuple(shape)
    if channels_first(args):
        return shape[1:], shape[0]
    return shape[:-1], shape[-1]


def join_channels(spatial: Sequence, channels, args: dict) -> tuple:
    """The inverse of ``split_channels``."""
    if channels_first(args):
        return (channels,) + tuple(spatial)
    return tuple(spatial) + (channels,)


def layout(n_spatial: int, args: dict, leading: tuple = ()) -> str:
    """The axes a layer expects, e.g. ``(batch, height, width, channels)``."""
    spatial = _SPATIAL_NAMES.get(n_spatial, tuple(f"dim{i + 1}" for i in range(n_spatial)))
    axes = join_channels(spatial, "channels", args)
    return "(" + ", ".join(("batch",) + tuple(leading) + axes) + ")"


# --------------------------------------------------------------------------- checks

def expect_rank(layer: str, shape: Sequence, expected: int, axes: str = "", hint: str | None = None) -> None:
    """Raise NC303 unless the input has exactly ``expected`` dimensions (batch included)."""
    if rank(shape) != expected:
        raise rank_error(layer, shape, f"rank {expected}", axes, hint)


def expect_min_rank(layer: str, shape: Sequence, minimum: int, axes: str = "", hint: str | None = None) -> None:
    """Raise NC303 unless the input has at least ``minimum`` dimensions (batch included)."""
    if rank(shape) < minimum:
        raise rank_error(layer, shape, f"rank {minimum} or more", axes, hint)


def rank_error(layer: str, shape: Sequence, expected: str, axes: str = "", hint: str | None = None) -> ShapeError:
    where = f" {axes}" if axes else ""
    return ShapeError(
        f"{layer} expects an input of {expected}{where}, but received an input of rank "
        f"{rank(shape)} with shape {show(shape)}.",
        code="NC303",
        hint=hint or f"Give {layer} an input of {expected}, e.g. with a Reshape before it.",
    )


def expect_known(layer: str, shape: Sequence, index: int, what: str = "the feature axis") -> int:
    """The size at ``index``, which weights are built from and so must be known."""
    size = shape[index]
    if size is None:
        raise ShapeError(
            f"{layer} needs a known size on {what} to create its weights, but received an "
            f"input of shape {show(shape)}.",
            code="NC307",
            hint=f"Give the input a fixed size on {what}.",
        )
    return size


def received(args: dict, *names: str) -> str:
    """``kernel_size=7, strides=2`` for the arguments that shaped a result, for messages."""
    return ", ".join(f"{n}={show_value(args[n])}" for n in names if n in args)


def expect_positive(layer: str, shape_in: Sequence, shape_out: Sequence, arg: str, hint: str,
                    values: str = "") -> tuple:
    """Raise NC302 when a computed dimension is zero or negative; return ``shape_out``.

    ``values`` lists the arguments that produced the shape (see ``received``).
    """
    if any(d is not None and d <= 0 for d in shape_out):
        with_values = f" with {values}" if values else ""
        raise ShapeError(
            f"{layer} would produce an output of shape {show(shape_out)} from an input of shape "
            f"{show(shape_in)}{with_values}: computed output size would be zero or negative.",
            code="NC302",
            arg=arg,
            hint=hint,
        )
    return tuple(shape_out)


def resolve_axis(layer: str, axis: int, shape: Sequence, arg: str = "axis") -> int:
    """A Keras axis (batch counted, negative allowed) as an index into the batchless shape.

    The batch axis cannot be normalized, concatenated or softmaxed over in a
    way Keras supports statically, so it is refused along with out-of-range axes.
    """
    full = rank(shape)
    if not -full <= axis < full:
        raise ShapeError(
            f"{layer} received {arg}={axis}, which is out of bounds for an input of rank {full} "
            f"with shape {show(shape)}: expected an axis in [{-full}, {full - 1}].",
            code="NC307",
            arg=arg,
            hint=f"Use an axis between 1 and {full - 1} (or -1 for the last axis).",
        )
    positive = axis % full
    if positive == 0:
        raise ShapeError(
            f"{layer} received {arg}={axis}, which is the batch axis of the input {show(shape)}.",
            code="NC307",
            arg=arg,
            hint="Axis 0 is the batch; use an axis between 1 and "
                 f"{full - 1} (or -1 for the last axis).",
        )
    return positive - 1


# --------------------------------------------------------------------------- argument normalization

def as_tuple(value, n: int) -> tuple:
    """Keras's ``standardize_tuple``: an int stands for the same value on every axis."""
    if isinstance(value, int):
        return (value,) * n
    return tuple(value)


def as_pairs(value, n: int) -> tuple:
    """Padding/cropping amounts as ``n`` (before, after) pairs.

    With one spatial axis Keras reads an int or a (before, after) tuple; with
    more it reads an int, one int per axis (symmetric), or one pair per axis.
    """
    if n == 1:
        return (as_tuple(value, 2),)
    if isinstance(value, int):
        return ((value, value),) * n
    return tuple(as_tuple(v, 2) for v in value)


# --------------------------------------------------------------------------- sliding windows

def conv_length(size, kernel: int, stride: int, padding: str, dilation: int = 1):
    """Output length of a convolution (``compute_conv_output_shape``); causal pads like same."""
    if size is None:
        return None
    if padding == "valid":
        return (size - dilation * (kernel - 1) - 1) // stride + 1
    return (size - 1) // stride + 1


def pool_length(size, pool: int, stride: int, padding: str):
    """Output length of a pooling window (``compute_pooling_output_shape``)."""
    if size is None:
        return None
    if padding == "valid":
        return (size - pool) // stride + 1
    return (size - 1) // stride + 1


def transpose_length(size, kernel: int, stride: int, padding: str, output_padding, dilation: int = 1):
    """Output length of a transposed convolution (``_get_output_shape_given_tf_padding``)."""
    if size is None:
        return None
    kernel = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(kernel, stride) - kernel if output_padding is None else output_padding
        return (size - 1) * stride + kernel + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + kernel % 2 + output_padding


def window_hint(arg: str) -> str:
    """The usual fixes when a sliding window does not fit its input."""
    return (f'Use padding="same", a smaller {arg} or smaller strides, '
            "or give the layer a larger input.")


# --------------------------------------------------------------------------- weights

def lora_params(kernel_shape: Sequence[int], lora_rank) -> tuple[int, int]:
    """(trainable, non_trainable) of a kernel, with LoRA when ``lora_rank`` is set.

    Keras's ``enable_lora`` freezes the kernel and trains two low-rank factors
    of shapes ``kernel[:-1] + (rank,)`` and ``(rank, kernel[-1])``.
    """
    size = prod(kernel_shape)
    if not lora_rank:
        return size, 0
    adapters = prod(kernel_shape[:-1]) * lora_rank + lora_rank * kernel_shape[-1]
    return adapters, size
