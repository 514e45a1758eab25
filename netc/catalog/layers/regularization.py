"""Regularization layers: dropout variants, Gaussian noise, activity regularization.

None of them has weights or changes its input's shape; they differ in the
input rank they accept and their arguments.
"""
from __future__ import annotations

from netc.catalog import args as A
from netc.catalog import shapes as S
from netc.catalog.spec import Arg, LayerSpec, ShapeError, no_params
from netc.catalog.types import FLOAT, UNIT_FLOAT

CATEGORY = "regularization"


def _with_noise_shape(name: str):
    """Shape function of a layer whose ``noise_shape`` must broadcast to its input.

    Keras only finds a bad noise_shape when the model runs; netc finds it now.
    """
    def output_shape(args: dict, shape) -> tuple:
        noise = args["noise_shape"]
        if noise is None:
            return tuple(shape)
        full = (None,) + tuple(shape)
        if len(noise) != len(full) or any(n not in (None, 1) and d is not None and n != d
                                          for n, d in zip(noise, full)):
            raise ShapeError(
                f"{name} received noise_shape={S.show_value(noise)}, which does not broadcast to its input "
                f"of shape {S.show(shape)}.",
                code="NC307", arg="noise_shape",
                hint=f"Give one entry per input axis (batch included, {len(full)} in all), each none, 1 "
                     "or the input's size.")
        return tuple(shape)
    return output_shape


def _any_shape(args: dict, shape) -> tuple:
    return tuple(shape)


DROPOUT = LayerSpec(
    "Dropout", CATEGORY, (A.rate(), A.noise_shape(), A.seed()), _with_noise_shape("Dropout"), no_params,
    doc="Randomly sets input units to 0 with frequency rate during training, scaling the rest by 1/(1 - rate).")

ALPHA_DROPOUT = LayerSpec(
    "AlphaDropout", CATEGORY, (A.rate(), A.noise_shape(), A.seed()), _with_noise_shape("AlphaDropout"),
    no_params,
    doc="Dropout that keeps the mean and variance of its inputs, for self-normalizing (selu) networks.")

GAUSSIAN_NOISE = LayerSpec(
    "GaussianNoise", CATEGORY,
    (Arg("stddev", UNIT_FLOAT, doc="Standard deviation of the noise; Keras requires it in [0, 1]."), A.seed()),
    _any_shape, no_params,
    doc="Adds zero-centered Gaussian noise during training (a regularizer against overfitting).")

GAUSSIAN_DROPOUT = LayerSpec(
    "GaussianDropout", CATEGORY,
    (A.rate(doc="Drop probability, as in Dropout; the noise has stddev sqrt(rate / (1 - rate))."), A.seed()),
    _any_shape, no_params,
    doc="Multiplies the input by 1-centered Gaussian noise during training.")

ACTIVITY_REGULARIZATION = LayerSpec(
    "ActivityRegularization", CATEGORY,
    (Arg("l1", FLOAT, 0.0, "L1 regularization factor on the activity."),
     Arg("l2", FLOAT, 0.0, "L2 regularization factor on the activity.")),
    _any_shape, no_params,
    doc="Adds an L1/L2 penalty on its input activity to the loss; passes the input through.")


def spatial_dropout_spec(rank: int) -> LayerSpec:
    """``SpatialDropout{rank}D``: drops whole feature maps; 1D takes no data_format."""
    name = f"SpatialDropout{rank}D"

    def output_shape(args: dict, shape) -> tuple:
        S.expect_rank(name, shape, rank + 2, S.layout(rank, args))
        return tuple(shape)

    fmt = (A.data_format(),) if rank > 1 else ()
    # Keras quirk: SpatialDropout's __init__ has no **kwargs, so it takes no trainable argument.
    return LayerSpec(name, CATEGORY, (A.rate(), *fmt, A.seed()), output_shape, no_params,
                     without_common=("trainable",),
                     doc=f"Spatial {rank}D dropout: drops entire channels (feature maps) instead of single "
                         "elements, for inputs whose neighbours are strongly correlated.")


SPECS = [DROPOUT, *(spatial_dropout_spec(n) for n in (1, 2, 3)), GAUSSIAN_NOISE, GAUSSIAN_DROPOUT,
         ALPHA_DROPOUT, ACTIVITY_REGULARIZATION]
