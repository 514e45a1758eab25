"""What netc knows of one Keras layer: arguments, static output shape, parameter count.

Shapes are tuples without the batch dimension; ``None`` is an unknown size.
A layer's ``output_shape`` and ``params`` functions receive the arguments bound
by name with defaults filled (``data_format`` already set from the model and
``channels`` already resolved to an integer axis) and the input shape, or a
list of shapes for a layer that takes several inputs. They raise
``ShapeError`` when the layer cannot take that input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from netc.catalog.types import BOOL, REQUIRED, STR, Choice, Type, optional

Shape = tuple  # tuple[int | None, ...], batch dimension excluded


class ShapeError(Exception):
    """A layer cannot take its input.

    ``code`` is a diagnostic code (NC301 merge mismatch, NC302 non-positive
    dimension, NC303 wrong rank, NC307 otherwise); ``arg`` names the argument to
    blame, so the diagnostic points at it; ``hint`` says how to fix it.
    """

    def __init__(self, message: str, code: str = "NC307", arg: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.arg = arg
        self.hint = hint


@dataclass(frozen=True)
class Arg:
    name: str
    type: Type
    default: Any = REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def no_params(args: dict, input_shape) -> tuple[int, int]:
    return (0, 0)


@dataclass(frozen=True)
class LayerSpec:
    """One catalog entry. ``args`` are in Keras's positional order."""

    name: str
    category: str
    args: tuple[Arg, ...]
    output_shape: Callable[[dict, Any], Shape]
    params: Callable[[dict, Any], tuple[int, int]] = no_params  # (trainable, non_trainable)
    inputs: str = "one"  # "one" | "many" (a list, like merges) | "attention" (query, value[, key])
    doc: str = ""
    keras_name: str | None = None  # the keras.layers attribute when it differs from ``name``
    # COMMON_ARGS the Keras class does not take (SpatialDropout has no **kwargs, so no ``trainable``).
    without_common: tuple[str, ...] = ()
    arg_index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "arg_index", {a.name: a for a in self.all_args})

    @property
    def all_args(self) -> tuple[Arg, ...]:
        return self.args + tuple(a for a in COMMON_ARGS if a.name not in self.without_common)

    @property
    def takes_data_format(self) -> bool:
        return any(a.name == "data_format" for a in self.args)

    def param_counts(self, args: dict, input_shape) -> tuple[int, int]:
        """(trainable, non_trainable) as Keras counts them, honouring the common ``trainable=false``.

        ``params`` describes the layer as built; a frozen layer keeps the same
        weights but Keras reports all of them as non-trainable.
        """
        trainable, non_trainable = self.params(args, input_shape)
        if args.get("trainable", True):
            return trainable, non_trainable
        return 0, trainable + non_trainable


DTYPE_POLICIES = ("float16", "float32", "float64", "bfloat16", "mixed_float16", "mixed_bfloat16",
                  "int8", "int16", "int32", "int64", "uint8", "bool")

# Every Keras layer takes these keyword arguments.
COMMON_ARGS: tuple[Arg, ...] = (
    Arg("name", optional(STR), None, "The layer's name in the Keras model."),
    Arg("trainable", BOOL, True, "Whether the layer's weights are trained."),
    Arg("dtype", optional(Choice(DTYPE_POLICIES)), None,
        "The layer's dtype policy, e.g. \"float32\" or \"mixed_float16\"."),
)


@dataclass(frozen=True)
class CallSpec:
    """A catalog entry that is not a layer: a loader, optimizer, callback, distribution or tree model."""

    name: str
    category: str
    args: tuple[Arg, ...]
    doc: str = ""
    arg_index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "arg_index", {a.name: a for a in self.args})

    @property
    def all_args(self) -> tuple[Arg, ...]:
        return self.args

    takes_data_format = False
