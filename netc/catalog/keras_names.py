"""Keras's string identifiers, as Keras 3.15 resolves them, for argument types.

A spec names an activation, initializer, regularizer or constraint by the
string Keras's ``get()`` accepts (``"relu"``, ``"he_normal"``, ``"l2"``,
``"max_norm"``). Listing them here lets the checker reject a misspelt name
without importing Keras, and lets the language server complete them. The
lists were taken from ``keras.activations`` / ``keras.initializers`` /
``keras.regularizers`` / ``keras.constraints`` (their ``ALL_OBJECTS_DICT``);
``tests/test_catalog_signatures.py`` checks each name still resolves.
"""
from __future__ import annotations

from netc.catalog.types import Choice, optional

ACTIVATIONS: tuple[str, ...] = (
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid",
    "hard_silu", "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid",
    "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu",
    "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus",
    "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink",
    "threshold",
)

# Initializers that need no arguments (``"constant"`` needs a value, ``"stft"``
# only fits spectrogram kernels, so neither is offered). Keras accepts both the
# snake_case alias and the class name; PReLU's own default is ``"Zeros"``.
INITIALIZERS: tuple[str, ...] = (
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "identity",
    "lecun_normal", "lecun_uniform", "normal", "one", "ones", "orthogonal",
    "random_normal", "random_uniform", "truncated_normal", "uniform",
    "variance_scaling", "zero", "zeros",
    "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal",
    "RandomUniform", "TruncatedNormal", "VarianceScaling", "Zeros",
)

# Note Keras spells the combined one ``"l1l2"`` (``"l1_l2"`` does not resolve).
REGULARIZERS: tuple[str, ...] = (
    "l1", "l2", "l1l2", "orthogonal_regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer",
)

CONSTRAINTS: tuple[str, ...] = (
    "max_norm", "min_max_norm", "non_neg", "unit_norm", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm",
)

# Image resizing methods of ``keras.ops.image.resize`` (UpSampling2D, Resizing).
INTERPOLATIONS: tuple[str, ...] = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area")
# Affine transforms (RandomRotation, RandomZoom, RandomTranslation) support fewer.
AFFINE_INTERPOLATIONS: tuple[str, ...] = ("nearest", "bilinear")
FILL_MODES: tuple[str, ...] = ("reflect", "wrap", "constant", "nearest")

ACTIVATION = optional(Choice(ACTIVATIONS))
INITIALIZER = optional(Choice(INITIALIZERS))
REGULARIZER = optional(Choice(REGULARIZERS))
CONSTRAINT = optional(Choice(CONSTRAINTS))
