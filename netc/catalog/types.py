"""The small type language the catalog uses to describe layer arguments.

A spec's values are plain Python data (int, float, str, bool, None, tuple,
list) plus two netc values: ``LayerValue`` (a layer call passed as an
argument, like ``Bidirectional(LSTM(64))``) and ``CHANNELS`` (the keyword
``channels``, resolved per layer to the feature axis of its input).
Each type can say whether it accepts a value and describe itself for messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class _Channels:
    """The keyword ``channels``: the feature axis of a layer's input."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "channels"


CHANNELS = _Channels()


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED = _Required()


@dataclass(frozen=True)
class LayerValue:
    """A layer call used as a value; ``args`` are bound by name (defaults filled) once checked."""

    name: str
    args: dict = field(default_factory=dict, compare=False, hash=False)
    explicit: tuple = field(default=(), compare=False, hash=False)  # the names the spec wrote

    @property
    def spec(self):
        from netc.catalog import LAYERS
        return LAYERS[self.name]


def describe_value(value: Any, *, full_calls: bool = False) -> str:
    """A value as a spec spells it: in messages, and in the spec text netc writes.

    Literals read back as the same value (strings are escaped). A layer value
    is shown as ``Name(...)``, and so is an evaluated call
    (``compiler.evaluate.CallValue``) unless ``full_calls``: then the call is
    written with its arguments, as spec text that reads back.
    """
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        inner = ", ".join(describe_value(v, full_calls=full_calls) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(describe_value(v, full_calls=full_calls) for v in value) + "]"
    if isinstance(value, LayerValue):
        return f"{value.name}(...)"
    if hasattr(value, "func") and hasattr(value, "args"):  # an evaluated call (compiler.evaluate.CallValue)
        if not full_calls:
            return f"{value.func}(...)"
        args = ", ".join(f"{a.name}={describe_value(a.value, full_calls=True)}" if a.name
                         else describe_value(a.value, full_calls=True) for a in value.args)
        receiver = getattr(value, "receiver", None)
        return (f"{receiver}." if receiver else "") + f"{value.func}({args})"
    return repr(value)


def type_name(value: Any) -> str:
    """The spec-level type of a value, for messages."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "tuple"
    if isinstance(value, list):
        return "list"
    if isinstance(value, LayerValue):
        return "layer"
    if value is CHANNELS:
        return "channels"
    return type(value).__name__


class Type:
    def accepts(self, value: Any) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def __or__(self, other: "Type") -> "Type":
        return Union((self, other))


@dataclass(frozen=True)
class Scalar(Type):
    name: str  # int | float | bool | str | none | any

    def accepts(self, value: Any) -> bool:
        if self.name == "any":
            return True
        if self.name == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        if self.name == "float":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.name == "bool":
            return isinstance(value, bool)
        if self.name == "str":
            return isinstance(value, str)
        if self.name == "none":
            return value is None
        raise ValueError(self.name)

    def describe(self) -> str:
        return self.name


INT = Scalar("int")
FLOAT = Scalar("float")
BOOL = Scalar("bool")
STR = Scalar("str")
NONE = Scalar("none")
ANY = Scalar("any")


@dataclass(frozen=True)
class Choice(Type):
    """One of a fixed set of strings (or other literals)."""

    options: tuple

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def describe(self) -> str:
        shown = " | ".join(describe_value(o) for o in self.options[:6])
        return shown if len(self.options) <= 6 else f"{shown} | ... ({len(self.options)} names)"


@dataclass(frozen=True)
class TupleOf(Type):
    """A tuple (a list is accepted too) of items of one type; ``length`` None means any length."""

    item: Type
    length: int | None = None

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, (tuple, list)):
            return False
        if self.length is not None and len(value) != self.length:
            return False
        return all(self.item.accepts(v) for v in value)

    def describe(self) -> str:
        n = "" if self.length is None else f", {self.length}"
        return f"tuple[{self.item.describe()}{n}]"


@dataclass(frozen=True)
class ListOf(Type):
    item: Type

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and all(self.item.accepts(v) for v in value)

    def describe(self) -> str:
        return f"list[{self.item.describe()}]"


@dataclass(frozen=True)
class Union(Type):
    options: tuple

    def accepts(self, value: Any) -> bool:
        return any(t.accepts(value) for t in self.options)

    def describe(self) -> str:
        return " | ".join(t.describe() for t in self.options)


@dataclass(frozen=True)
class LayerType(Type):
    """A nested layer call, optionally restricted to some layer names (e.g. recurrent layers)."""

    allowed: tuple | None = None

    def accepts(self, value: Any) -> bool:
        return isinstance(value, LayerValue) and (self.allowed is None or value.name in self.allowed)

    def describe(self) -> str:
        return "layer" if self.allowed is None else "layer (" + " | ".join(self.allowed) + ")"


@dataclass(frozen=True)
class AxisType(Type):
    """An integer axis or the keyword ``channels``."""

    def accepts(self, value: Any) -> bool:
        return value is CHANNELS or INT.accepts(value)

    def describe(self) -> str:
        return "int | channels"


AXIS = AxisType()


def string_options(t: Type) -> tuple[str, ...]:
    """Every string a type accepts by name (its Choices), for "did you mean" on a misspelt one."""
    if isinstance(t, Choice):
        return tuple(o for o in t.options if isinstance(o, str))
    if isinstance(t, Union):
        return tuple(o for option in t.options for o in string_options(option))
    return ()


def optional(t: Type) -> Type:
    return Union((t, NONE))


def int_or_tuple(n: int, item: Type = INT) -> Type:
    """Keras's ``int or tuple of n ints`` (kernel sizes, strides, pool sizes).

    ``item`` narrows the ints, e.g. ``POSITIVE_INT`` for kernel sizes.
    """
    return Union((item, TupleOf(item, n)))


@dataclass(frozen=True)
class Bounded(Type):
    """A number within inclusive bounds, e.g. a rate in [0, 1] or a positive size.

    Keras rejects such values in ``__init__``; saying so in the type lets the
    checker point at the argument before any shape is computed.
    """

    base: Scalar
    low: float | None = None
    high: float | None = None

    def accepts(self, value: Any) -> bool:
        if not self.base.accepts(value):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.base.describe()} in [{self.low}, {self.high}]"
        if self.low is not None:
            return f"{self.base.describe()} >= {self.low}"
        return f"{self.base.describe()} <= {self.high}"


POSITIVE_INT = Bounded(INT, 1)
NON_NEGATIVE_INT = Bounded(INT, 0)
NON_NEGATIVE_FLOAT = Bounded(FLOAT, 0)
UNIT_FLOAT = Bounded(FLOAT, 0, 1)


LAYER = LayerType()
