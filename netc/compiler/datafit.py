"""Does a model fit its data? The rules shared by the static check and ``netc train``.

A loader's samples fit a model input when the shapes are equal, or when the
input is the sample shape plus a trailing channel axis of size 1 (MNIST-1D's
40-step signals feed ``input x: (40, 1)``; netc adds that axis when it loads
them). With a class-index loss the output layer needs a unit per class.

The checker applies these rules where a loader's arguments fix its shapes
(``LOADER_SHAPES``); the runtime applies the same rules to the loaded arrays,
so both say the same thing in the same words. Framework-free.
"""
from __future__ import annotations

from typing import Any

from netc import diagnostics as dg
from netc.catalog import training as cat
from netc.catalog.types import describe_value
from netc.compiler import nodes as n
from netc.compiler.check import bind_arguments, format_shape
from netc.compiler.evaluate import CallValue, EvalError, evaluate
from netc.compiler.graph import Graph
from netc.diagnostics import Diagnostic

DATA_KEYS = ("data", "validation_data", "test_data")
SAME, ADD_CHANNEL = "same", "add_channel"


def _dims_match(model_dims: tuple, data_dims: tuple) -> bool:
    """Equal dimension by dimension; a None (variable) model dimension takes any size."""
    return len(model_dims) == len(data_dims) and all(m is None or m == d for m, d in zip(model_dims, data_dims))


def fit_rule(input_shape: tuple, data_shape: tuple) -> str | None:
    """SAME when samples feed the input as they are, ADD_CHANNEL when netc must add a trailing axis of 1, else None."""
    input_shape, data_shape = tuple(input_shape), tuple(data_shape)
    if _dims_match(input_shape, data_shape):
        return SAME
    if input_shape[-1:] == (1,) and _dims_match(input_shape[:-1], data_shape):
        return ADD_CHANNEL
    return None


def sample_shape_text(shape: tuple) -> str:
    """A sample shape as a spec writes it: (40,) or (8, 8, 1)."""
    return describe_value(tuple("none" if d is None else d for d in shape)).replace('"', "")


def input_problem(model: str, input_name: str, input_shape: tuple, source: str, data_shape: tuple) -> str:
    return (f"model {model}'s input {input_name} is {format_shape(tuple(input_shape))} but {source} gives samples "
            f"of shape {sample_shape_text(data_shape)}")


def input_hint(input_name: str, data_shape: tuple) -> str:
    shape = sample_shape_text(data_shape)
    if len(data_shape) != 1:
        return f"declare 'input {input_name}: {shape}'"
    with_channel = sample_shape_text(tuple(data_shape) + (1,))
    return f"declare 'input {input_name}: {shape}' (or {with_channel}: netc adds the channel axis of size 1)"


def call_text(call: CallValue) -> str:
    """A loader call as the spec wrote it, for messages: mnist1d(split="test")."""
    args = ", ".join((f"{a.name}={describe_value(a.value)}" if a.name else describe_value(a.value)) for a in call.args)
    return f"{call.func}({args})"


def output_units(loss: Any, output_shape: tuple | None) -> int | None:
    """The number of classes the output can predict, for a class loss; None when no class rule applies."""
    if not isinstance(loss, str) or output_shape is None or not output_shape:
        return None
    if loss in cat.SPARSE_CLASS_LOSSES or loss in cat.ONE_HOT_CLASS_LOSSES:
        return output_shape[-1]
    return None


def class_problem(model: str, units: int, source: str, num_classes: int) -> str:
    return (f"model {model}'s output layer has {units} unit{'s' * (units != 1)} but {source} gives labels of "
            f"{num_classes} classes (0 to {num_classes - 1})")


def class_hint(num_classes: int) -> str:
    return f"end the model with Dense({num_classes}, activation=\"softmax\")"


class _Silent:
    """A reporter for ``bind_arguments`` that drops problems: the directive checker reports them already."""

    def __call__(self, *args, **kwargs) -> None:
        pass


def loader_shape(call: CallValue) -> cat.DataShape | None:
    """What a loader call promises statically, or None when the call does not bind."""
    spec = cat.LOADERS.get(call.func)
    if spec is None or call.receiver is not None:
        return None
    binding = bind_arguments(spec, call, _Silent())
    if not binding.ok:
        return None
    return cat.LOADER_SHAPES[call.func](binding.with_defaults())


def check_train_data(model: str, graph: Graph | None, settings: dict[str, n.Setting], env: dict[str, Any],
                     file: str) -> list[Diagnostic]:
    """Static NC401/NC402 diagnostics of a train block's loaders against its model, at each loader call."""
    if graph is None or any(node.shape is None for node in graph.inputs):
        return []
    found: list[Diagnostic] = []
    loss = _value(settings.get("loss"), env)
    by_id = graph.by_id()
    outputs = [by_id[i].shape for i, _ in graph.outputs]
    for key in DATA_KEYS:
        call = _value(settings.get(key), env)
        if not isinstance(call, CallValue):
            continue
        shape = loader_shape(call)
        if shape is None:
            continue
        if len(graph.inputs) != 1:
            if key == "data":
                found.append(dg.make("NC401", f"model {model} has {len(graph.inputs)} inputs, but {call_text(call)} "
                                              "gives one input array", call.span, file,
                                     "netc train feeds models with one input"))
            continue
        node = graph.inputs[0]
        if shape.x is not None and fit_rule(node.shape, shape.x) is None:
            found.append(dg.make("NC401", input_problem(model, node.label, node.shape, call_text(call), shape.x),
                                 call.span, file, input_hint(node.label, shape.x)))
        units = output_units(loss, outputs[0]) if len(outputs) == 1 else None
        if shape.num_classes is not None and units is not None and units < shape.num_classes:
            found.append(dg.make("NC402", class_problem(model, units, call_text(call), shape.num_classes),
                                 call.span, file, class_hint(shape.num_classes)))
    return found


def _value(setting: n.Setting | None, env: dict[str, Any]) -> Any:
    """A setting's value, or None when absent or broken (its own check reports that)."""
    if setting is None or not setting.values:
        return None
    try:
        return evaluate(setting.values[0], env)
    except EvalError:
        return None
