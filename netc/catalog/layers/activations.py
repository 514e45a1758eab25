"""Activation layers: Activation, ReLU, LeakyReLU, PReLU, ELU, Softmax.

All keep their input's shape; only PReLU has weights (one slope per element,
shared along ``shared_axes``).
"""
from __future__ import annotations

from netc.catalog import args as A
from netc.catalog import shapes as S
from netc.catalog.keras_names import ACTIVATION
from netc.catalog.spec import Arg, LayerSpec, no_params
from netc.catalog.types import AXIS, FLOAT, INT, NON_NEGATIVE_FLOAT, POSITIVE_INT, TupleOf, Union, optional

CATEGORY = "activations"


def _same_shape(args: dict, shape) -> tuple:
    return tuple(shape)


ACTIVATION_LAYER = LayerSpec(
    "Activation", CATEGORY,
    (Arg("activation", ACTIVATION, doc='Name of the activation function, e.g. "relu".'),),
    _same_shape, no_params,
    doc="Applies an activation function to an output.")

RELU = LayerSpec(
    "ReLU", CATEGORY,
    (Arg("max_value", optional(NON_NEGATIVE_FLOAT), None, "Upper bound of the output (none: unbounded)."),
     Arg("negative_slope", NON_NEGATIVE_FLOAT, 0.0, "Slope below the threshold."),
     Arg("threshold", NON_NEGATIVE_FLOAT, 0.0, "Values below it are damped by negative_slope.")),
    _same_shape, no_params,
    doc="Rectified Linear Unit activation: max(x, 0), optionally capped at max_value and leaky below threshold.")

LEAKY_RELU = LayerSpec(
    "LeakyReLU", CATEGORY,
    (Arg("negative_slope", NON_NEGATIVE_FLOAT, 0.3, "Slope for negative inputs (Keras's default is 0.3)."),),
    _same_shape, no_params,
    doc="Leaky version of a Rectified Linear Unit: x for x >= 0, negative_slope * x otherwise.")

ELU = LayerSpec(
    "ELU", CATEGORY, (Arg("alpha", FLOAT, 1.0, "Scale of the negative part."),), _same_shape, no_params,
    doc="Exponential Linear Unit: x for x > 0, alpha * (exp(x) - 1) otherwise.")


def _softmax_shape(args: dict, shape) -> tuple:
    axes = args["axis"] if isinstance(args["axis"], (tuple, list)) else (args["axis"],)
    for axis in axes:
        S.resolve_axis("Softmax", axis, shape)
    return tuple(shape)


SOFTMAX = LayerSpec(
    "Softmax", CATEGORY,
    (Arg("axis", Union((AXIS, TupleOf(INT))), -1, "Axis or axes the softmax normalizes over."),),
    _softmax_shape, no_params,
    doc="Softmax activation layer: exp(x) / sum(exp(x)) along an axis.")


def _prelu_weight_shape(args: dict, shape) -> tuple:
    """One alpha per input element, of size 1 along shared_axes (batch-counted axes)."""
    shared = args["shared_axes"] or ()
    shared = (shared,) if isinstance(shared, int) else tuple(shared)
    indices = {S.resolve_axis("PReLU", a, shape, "shared_axes") for a in shared}
    return tuple(1 if i in indices else S.expect_known("PReLU", shape, i, f"axis {i + 1}")
                 for i in range(len(shape)))


def _prelu_shape(args: dict, shape) -> tuple:
    _prelu_weight_shape(args, shape)
    return tuple(shape)


def _prelu_params(args: dict, shape) -> tuple[int, int]:
    return S.prod(_prelu_weight_shape(args, shape)), 0


PRELU = LayerSpec(
    "PReLU", CATEGORY,
    (*A.weight_args(("alpha", "Zeros")),
     Arg("shared_axes", optional(Union((POSITIVE_INT, TupleOf(POSITIVE_INT)))), None,
         "Axes (batch counted, so from 1) along which alpha is shared, e.g. (1, 2) for images.")),
    _prelu_shape, _prelu_params,
    doc="Parametric Rectified Linear Unit: x for x >= 0, alpha * x otherwise, with a learned alpha.")

SPECS = [ACTIVATION_LAYER, RELU, LEAKY_RELU, PRELU, ELU, SOFTMAX]
