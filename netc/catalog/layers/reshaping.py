"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, and ZeroPadding/Cropping/UpSampling in 1-3D.

The three spatial families share one factory, ``spatial_spec``: each maps
every spatial length through a per-axis function of its argument.
"""
from __future__ import annotations

from typing import Callable

from netc.catalog import args as A
from netc.catalog import shapes as S
from netc.catalog.keras_names import INTERPOLATIONS
from netc.catalog.spec import Arg, LayerSpec, ShapeError, no_params
from netc.catalog.types import (
    INT, NON_NEGATIVE_INT, POSITIVE_INT, Choice, TupleOf, Type, Union, int_or_tuple,
)

CATEGORY = "reshaping"


# --------------------------------------------------------------------------- Flatten, Reshape, Permute, RepeatVector

def _flatten_shape(args: dict, shape) -> tuple:
    if not shape:
        return (1,)
    return (None,) if None in shape else (S.prod(shape),)


FLATTEN = LayerSpec(
    "Flatten", CATEGORY, (A.data_format(),), _flatten_shape, no_params,
    doc="Flattens the input to (batch, features); channels_first inputs are moved to channels_last first.")


def _reshape_error(message: str, hint: str) -> ShapeError:
    return ShapeError(message, code="NC307", arg="target_shape", hint=hint)


def _reshape_shape(args: dict, shape) -> tuple:
    """Keras's ``compute_reshape_output_shape``: at most one -1, inferred when the input is known."""
    target = tuple(args["target_shape"])
    if any(d < -1 for d in target) or target.count(-1) > 1:
        raise _reshape_error(
            f"Reshape received target_shape={S.show_value(target)}: each dimension must be non-negative, "
            "or -1 for a single unknown dimension.",
            "Use at most one -1 and no other negative size.")
    if None in shape:
        return tuple(None if d == -1 else d for d in target)
    size = S.prod(shape)
    known = S.prod(d for d in target if d != -1)
    fits = size == known if -1 not in target else (known != 0 and size % known == 0)
    if not fits:
        raise _reshape_error(
            f"Reshape cannot turn an input of shape {S.show(shape)} ({size} values per example) into "
            f"target_shape={S.show_value(target)}: the total size of the tensor must be unchanged.",
            f"Choose a target_shape whose sizes multiply to {size}, or use -1 for one inferred size.")
    return tuple(size // known if d == -1 else d for d in target)


RESHAPE = LayerSpec(
    "Reshape", CATEGORY,
    (Arg("target_shape", TupleOf(INT), doc="Output shape without the batch axis; one entry may be -1."),),
    _reshape_shape, no_params,
    doc="Reshapes each example to target_shape.")


def _permute_shape(args: dict, shape) -> tuple:
    dims = tuple(args["dims"])
    if sorted(dims) != list(range(1, len(dims) + 1)):
        raise ShapeError(
            f"Permute received dims={S.show_value(dims)}: the indices must be a permutation of 1..{len(dims)} "
            "(the batch axis 0 is never permuted).",
            code="NC307", arg="dims", hint="List each non-batch axis exactly once, starting from 1.")
    S.expect_rank("Permute", shape, len(dims) + 1, f"(one axis per entry of dims={S.show_value(dims)})",
                  hint="Give dims one entry per non-batch axis of the input.")
    return tuple(shape[d - 1] for d in dims)


PERMUTE = LayerSpec(
    "Permute", CATEGORY,
    (Arg("dims", TupleOf(POSITIVE_INT), doc="Permutation of the non-batch axes, indexed from 1, e.g. (2, 1)."),),
    _permute_shape, no_params,
    doc="Permutes the dimensions of the input according to a given pattern.")


def _repeat_vector_shape(args: dict, shape) -> tuple:
    S.expect_rank("RepeatVector", shape, 2, "(batch, features)")
    return (args["n"], shape[0])


REPEAT_VECTOR = LayerSpec(
    "RepeatVector", CATEGORY, (Arg("n", POSITIVE_INT, doc="Number of repetitions."),),
    _repeat_vector_shape, no_params,
    doc="Repeats a (batch, features) input n times into (batch, n, features).")


# --------------------------------------------------------------------------- ZeroPadding, Cropping, UpSampling

def _amounts_type(rank: int) -> Type:
    """Keras's padding/cropping forms: int, (before, after) in 1D, else int or pair per axis."""
    if rank == 1:
        return int_or_tuple(2, NON_NEGATIVE_INT)
    per_axis = Union((NON_NEGATIVE_INT, TupleOf(NON_NEGATIVE_INT, 2)))
    return Union((NON_NEGATIVE_INT, TupleOf(per_axis, rank)))


def _padded(args: dict, rank: int) -> list[Callable]:
    return [lambda n, p=p: n + sum(p) for p in S.as_pairs(args["padding"], rank)]


def _cropped(args: dict, rank: int) -> list[Callable]:
    return [lambda n, c=c: n - sum(c) for c in S.as_pairs(args["cropping"], rank)]


def _upsampled(args: dict, rank: int) -> list[Callable]:
    return [lambda n, k=k: n * k for k in S.as_tuple(args["size"], rank)]


_SPATIAL = {
    # family: (argument, default per rank, per-axis maps, doc)
    "ZeroPadding": ("padding", {1: 1, 2: (1, 1), 3: ((1, 1), (1, 1), (1, 1))}, _padded,
                    "Zero-padding layer for {n}D input: adds rows/columns of zeros at the borders of {axes}."),
    "Cropping": ("cropping", {1: (1, 1), 2: ((0, 0), (0, 0)), 3: ((1, 1), (1, 1), (1, 1))}, _cropped,
                 "Cropping layer for {n}D input: removes the given amounts from the borders of {axes}."),
    "UpSampling": ("size", {1: 2, 2: (2, 2), 3: (2, 2, 2)}, _upsampled,
                   "Upsampling layer for {n}D input: repeats each element of {axes} size times."),
}
_AXES = {1: "the steps", 2: "height and width", 3: "depth, height and width"}


def _spatial_args(family: str, rank: int) -> tuple[Arg, ...]:
    arg, defaults, _, _ = _SPATIAL[family]
    if family == "UpSampling":
        value = Arg(arg, POSITIVE_INT if rank == 1 else int_or_tuple(rank, POSITIVE_INT), defaults[rank],
                    "Upsampling factor per spatial axis.")
    else:
        value = Arg(arg, _amounts_type(rank), defaults[rank],
                    "Amount per spatial axis: an int, one int per axis, or (before, after) pairs.")
    # Keras quirk: Cropping1D and UpSampling1D take no data_format; ZeroPadding1D does.
    fmt = (A.data_format(),) if rank > 1 or family == "ZeroPadding" else ()
    extra = (Arg("interpolation", Choice(INTERPOLATIONS), "nearest", "How new pixels are computed."),) \
        if (family, rank) == ("UpSampling", 2) else ()
    return (value, *fmt, *extra)


def spatial_spec(family: str, rank: int) -> LayerSpec:
    """``ZeroPadding{rank}D``, ``Cropping{rank}D`` or ``UpSampling{rank}D``."""
    name = f"{family}{rank}D"
    arg, _, maps, doc = _SPATIAL[family]

    def output_shape(args: dict, shape) -> tuple:
        S.expect_rank(name, shape, rank + 2, S.layout(rank, args))
        spatial, channels = S.split_channels(shape, args)
        out = tuple(None if n is None else f(n) for n, f in zip(spatial, maps(args, rank)))
        return S.expect_positive(name, shape, S.join_channels(out, channels, args), arg,
                                 f"Lower {arg} below the input's size on each axis.", S.received(args, arg))

    return LayerSpec(name, CATEGORY, _spatial_args(family, rank), output_shape, no_params,
                     doc=doc.format(n=rank, axes=_AXES[rank]))


SPECS = [FLATTEN, RESHAPE, PERMUTE, REPEAT_VECTOR,
         *(spatial_spec(f, n) for f in _SPATIAL for n in (1, 2, 3))]
