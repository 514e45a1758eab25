"""Pooling layers: Max/Average pooling and their global forms, in 1-3D.

One factory per shape of pooling (windowed, global) parameterized by rank and
mode, as Keras's ``BasePooling`` / ``BaseGlobalPooling`` are.
"""
from __future__ import annotations

from netc.catalog import args as A
from netc.catalog import shapes as S
from netc.catalog.spec import Arg, LayerSpec, no_params
from netc.catalog.types import BOOL, REQUIRED, int_or_tuple, optional, POSITIVE_INT

CATEGORY = "pooling"
_MODES = {"max": "Max", "average": "Average"}
_AXES = {1: "steps", 2: "height and width", 3: "depth, height and width"}


def _windowed_args(rank: int, mode: str) -> tuple[Arg, ...]:
    # Keras quirk: MaxPooling has a default pool_size of 2 per axis, AveragePooling none.
    default = 2 if mode == "max" else REQUIRED
    return (
        A.window("pool_size", rank, default, "Size of the pooling window on each spatial axis."),
        Arg("strides", optional(int_or_tuple(rank, POSITIVE_INT)), None,
            "Step of the window on each spatial axis (none: pool_size)."),
        A.padding(),
        A.data_format(),
    )


def pooling_spec(rank: int, mode: str) -> LayerSpec:
    """``MaxPooling{rank}D`` or ``AveragePooling{rank}D``."""
    name = f"{_MODES[mode]}Pooling{rank}D"

    def output_shape(args: dict, shape) -> tuple:
        S.expect_rank(name, shape, rank + 2, S.layout(rank, args))
        spatial, channels = S.split_channels(shape, args)
        pool = S.as_tuple(args["pool_size"], rank)
        strides = pool if args["strides"] is None else S.as_tuple(args["strides"], rank)
        out = tuple(S.pool_length(n, p, s, args["padding"]) for n, p, s in zip(spatial, pool, strides))
        return S.expect_positive(name, shape, S.join_channels(out, channels, args), "pool_size",
                                 S.window_hint("pool_size"), S.received(args, "pool_size", "strides", "padding"))

    return LayerSpec(name, CATEGORY, _windowed_args(rank, mode), output_shape, no_params,
                     doc=f"{_MODES[mode]} pooling over {_AXES[rank]}: downsamples by taking the "
                         f"{mode} of each window.")


def global_pooling_spec(rank: int, mode: str) -> LayerSpec:
    """``GlobalMaxPooling{rank}D`` or ``GlobalAveragePooling{rank}D``."""
    name = f"Global{_MODES[mode]}Pooling{rank}D"

    def output_shape(args: dict, shape) -> tuple:
        S.expect_rank(name, shape, rank + 2, S.layout(rank, args))
        spatial, channels = S.split_channels(shape, args)
        if args["keepdims"]:
            return S.join_channels((1,) * rank, channels, args)
        return (channels,)

    return LayerSpec(
        name, CATEGORY,
        (A.data_format(), Arg("keepdims", BOOL, False, "Keep the pooled axes with size 1.")),
        output_shape, no_params,
        doc=f"Global {mode} pooling: the {mode} over all of {_AXES[rank]}, one value per channel.")


SPECS = [
    *(pooling_spec(n, m) for m in _MODES for n in (1, 2, 3)),
    *(global_pooling_spec(n, m) for m in _MODES for n in (1, 2, 3)),
]
