"""Argument declarations shared by many layers.

Keras repeats the same families of arguments across layers (``activation``,
``use_bias``, the initializer/regularizer/constraint trio of each weight,
``data_format``, ``seed``). Declaring them once keeps types, defaults and hover
docs identical everywhere. Keras orders a layer's weight arguments as every
initializer, then every regularizer (then ``activity_regularizer``), then every
constraint; ``weight_args`` composes them so, and layers that slip another
argument in between (LSTM's ``unit_forget_bias``) use the three pieces directly.
"""
from __future__ import annotations

from netc.catalog.keras_names import ACTIVATION, CONSTRAINT, INITIALIZER, REGULARIZER
from netc.catalog.spec import Arg
from netc.catalog.types import (
    BOOL, FLOAT, INT, NONE, POSITIVE_INT, REQUIRED, UNIT_FLOAT, Choice, TupleOf, int_or_tuple, optional,
)

DATA_FORMATS = ("channels_last", "channels_first")


def activation(default=None) -> Arg:
    return Arg("activation", ACTIVATION, default,
               "Activation applied to the output (none: linear).")


def use_bias() -> Arg:
    return Arg("use_bias", BOOL, True, "Whether the layer adds a learned bias.")


def data_format() -> Arg:
    """Injected from the model's ``data_format`` when left unset."""
    return Arg("data_format", optional(Choice(DATA_FORMATS)), None,
               "Axis order of the input; defaults to the model's data_format.")


def seed() -> Arg:
    return Arg("seed", optional(INT), None, "Seed of the layer's random draws.")


def window(name: str, rank: int, default=REQUIRED, doc: str = "", expand: bool = True) -> Arg:
    """A size per spatial axis (kernel_size, strides, dilation_rate, pool_size...).

    Keras's defaults are mostly a plain int for one axis and a tuple for more,
    e.g. ``strides=1`` for Conv1D but ``strides=(1, 1)`` for Conv2D;
    ``expand=False`` keeps an int default at every rank (ConvLSTM's quirk).
    """
    if expand and rank > 1 and isinstance(default, int):
        default = (default,) * rank
    return Arg(name, int_or_tuple(rank, POSITIVE_INT), default, doc)


def padding(causal: bool = False) -> Arg:
    options = ("valid", "same", "causal") if causal else ("valid", "same")
    doc = '"valid" (no padding) or "same" (pad so that output size = ceil(input / strides))'
    if causal:
        doc += ' or "causal" (pad on the left only, for temporal models)'
    return Arg("padding", Choice(options), "valid", doc + ".")


def initializers(*pairs: tuple[str, str]) -> tuple[Arg, ...]:
    """``<weight>_initializer`` args, one per (weight, default) pair."""
    return tuple(Arg(f"{w}_initializer", INITIALIZER, d, f"Initializer of the {w.replace('_', ' ')} weights.")
                 for w, d in pairs)


def regularizers(*weights: str, activity: bool = False) -> tuple[Arg, ...]:
    """``<weight>_regularizer`` args, then ``activity_regularizer`` when the layer has one."""
    out = tuple(Arg(f"{w}_regularizer", REGULARIZER, None, f"Regularizer of the {w.replace('_', ' ')} weights.")
                for w in weights)
    if activity:
        out += (Arg("activity_regularizer", REGULARIZER, None, "Regularizer of the layer's output."),)
    return out


def constraints(*weights: str) -> tuple[Arg, ...]:
    return tuple(Arg(f"{w}_constraint", CONSTRAINT, None, f"Constraint applied to the {w.replace('_', ' ')} weights after each update.")
                 for w in weights)


def weight_args(*pairs: tuple[str, str], activity: bool = False) -> tuple[Arg, ...]:
    """Initializer, regularizer and constraint args of some weights, in Keras's order."""
    names = tuple(w for w, _ in pairs)
    return initializers(*pairs) + regularizers(*names, activity=activity) + constraints(*names)


def lora() -> tuple[Arg, ...]:
    return (
        Arg("lora_rank", optional(POSITIVE_INT), None,
            "Rank of LoRA adapters: the kernel is frozen and two low-rank factors are trained."),
        Arg("lora_alpha", optional(FLOAT), None, "Scale of the LoRA update (default: lora_rank)."),
    )


def not_in_specs(name: str, what: str) -> Arg:
    """An argument that takes a Python object (weights, a quantization config): only none here."""
    return Arg(name, NONE, None, f"{what} Not expressible in a spec; always none.")


def rate(name: str = "rate", doc: str = "Fraction of the input units to drop.") -> Arg:
    return Arg(name, UNIT_FLOAT, doc=doc)


def noise_shape() -> Arg:
    return Arg("noise_shape", optional(TupleOf(optional(POSITIVE_INT))), None,
               "Shape of the binary dropout mask, batch included; none entries follow the input.")
