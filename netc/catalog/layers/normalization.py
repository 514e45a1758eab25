"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization.

The checker resolves ``axis=channels`` to an integer before these functions
run, so they only see Keras axes (batch counted, negative allowed).
"""
from __future__ import annotations

from netc.catalog import args as A
from netc.catalog import shapes as S
from netc.catalog.spec import Arg, LayerSpec, ShapeError, no_params
from netc.catalog.types import AXIS, BOOL, CHANNELS, FLOAT, INT, NON_NEGATIVE_FLOAT, TupleOf, Union

CATEGORY = "normalization"


def _axes(layer: str, axis, shape) -> list[int]:
    """The batchless indices an ``axis`` argument (int or tuple) names."""
    if isinstance(axis, int):
        return [S.resolve_axis(layer, axis, shape)]
    return [S.resolve_axis(layer, a, shape) for a in axis]


def _normalized_size(layer: str, args: dict, shape) -> int:
    """Number of features the layer keeps one gamma/beta for (sizes on its axes)."""
    return S.prod(S.expect_known(layer, shape, i, f"axis {i + 1}") for i in _axes(layer, args["axis"], shape))


def _center_scale() -> tuple[Arg, ...]:
    return (
        Arg("epsilon", NON_NEGATIVE_FLOAT, 1e-3, "Small float added to the variance to avoid dividing by zero."),
        Arg("center", BOOL, True, "Whether to learn an offset beta."),
        Arg("scale", BOOL, True, "Whether to learn a scale gamma."),
    )


def _affine_count(args: dict, size: int) -> int:
    return size * (int(args["center"]) + int(args["scale"]))


# --------------------------------------------------------------------------- BatchNormalization

def _batch_norm_shape(args: dict, shape) -> tuple:
    _normalized_size("BatchNormalization", args, shape)
    return tuple(shape)


def _batch_norm_params(args: dict, shape) -> tuple[int, int]:
    size = _normalized_size("BatchNormalization", args, shape)
    # moving mean and variance; renorm adds moving_stddev, renorm_mean and renorm_stddev.
    return _affine_count(args, size), size * (5 if args["renorm"] else 2)


BATCH_NORMALIZATION = LayerSpec(
    "BatchNormalization", CATEGORY,
    (
        Arg("axis", AXIS, CHANNELS, "The feature axis to normalize per feature (default: the channel axis)."),
        Arg("momentum", FLOAT, 0.99, "Momentum of the moving mean and variance."),
        *_center_scale(),
        *A.initializers(("beta", "zeros"), ("gamma", "ones"), ("moving_mean", "zeros"),
                        ("moving_variance", "ones")),
        *A.regularizers("beta", "gamma"),
        *A.constraints("beta", "gamma"),
        Arg("renorm", BOOL, False, "Whether to use batch renormalization (adds 3 non-trainable weights per feature)."),
        A.not_in_specs("renorm_clipping", "Dict of rmax/rmin/dmax clipping for renorm."),
        Arg("renorm_momentum", FLOAT, 0.99, "Momentum of the renorm moving statistics."),
        Arg("synchronized", BOOL, False, "Synchronize statistics across replicas (TensorFlow only)."),
    ),
    _batch_norm_shape, _batch_norm_params,
    doc="Normalizes its inputs per feature with batch statistics in training and moving averages in inference.",
)


# --------------------------------------------------------------------------- LayerNormalization

def _layer_norm_shape(args: dict, shape) -> tuple:
    _normalized_size("LayerNormalization", args, shape)
    return tuple(shape)


def _layer_norm_params(args: dict, shape) -> tuple[int, int]:
    return _affine_count(args, _normalized_size("LayerNormalization", args, shape)), 0


LAYER_NORMALIZATION = LayerSpec(
    "LayerNormalization", CATEGORY,
    (
        Arg("axis", Union((AXIS, TupleOf(INT))), -1, "Axis or axes to normalize each example over."),
        *_center_scale(),
        *A.weight_args(("beta", "zeros"), ("gamma", "ones")),
    ),
    _layer_norm_shape, _layer_norm_params,
    doc="Normalizes each example independently over the given axes (layer normalization).",
)


# --------------------------------------------------------------------------- GroupNormalization

def _group_count(args: dict, shape) -> tuple[int, int]:
    """(channels, groups) with Keras's checks: groups divides the channels (-1: one per channel)."""
    index = S.resolve_axis("GroupNormalization", args["axis"], shape)
    dim = S.expect_known("GroupNormalization", shape, index, f"axis {index + 1}")
    groups = dim if args["groups"] == -1 else args["groups"]
    if groups <= 0 or dim < groups or dim % groups:
        raise ShapeError(
            f"GroupNormalization received groups={args['groups']}, but the {dim} channels of the input "
            f"{S.show(shape)} cannot be split into that many equal groups.",
            code="NC307", arg="groups",
            hint=f"Use a number of groups that divides {dim}, or -1 for one group per channel.")
    return dim, groups


def _group_norm_shape(args: dict, shape) -> tuple:
    _group_count(args, shape)
    return tuple(shape)


def _group_norm_params(args: dict, shape) -> tuple[int, int]:
    return _affine_count(args, _group_count(args, shape)[0]), 0


GROUP_NORMALIZATION = LayerSpec(
    "GroupNormalization", CATEGORY,
    (
        Arg("groups", INT, 32, "Number of channel groups normalized separately; -1 means one per channel."),
        Arg("axis", AXIS, -1, "The channel axis."),
        *_center_scale(),
        *A.weight_args(("beta", "zeros"), ("gamma", "ones")),
    ),
    _group_norm_shape, _group_norm_params,
    doc="Group normalization: normalizes groups of channels of each example (instance norm with groups=-1, "
        "layer norm with groups=1).",
)


# --------------------------------------------------------------------------- UnitNormalization

def _unit_norm_shape(args: dict, shape) -> tuple:
    _axes("UnitNormalization", args["axis"], shape)
    return tuple(shape)


UNIT_NORMALIZATION = LayerSpec(
    "UnitNormalization", CATEGORY,
    (Arg("axis", Union((AXIS, TupleOf(INT))), -1, "Axis or axes along which to give each example unit L2 norm."),),
    _unit_norm_shape, no_params,
    doc="Scales each example to unit L2 norm along the given axes.",
)

SPECS = [BATCH_NORMALIZATION, LAYER_NORMALIZATION, GROUP_NORMALIZATION, UNIT_NORMALIZATION]
