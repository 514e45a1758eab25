"""Stage 3: bind every layer's arguments against the catalog and infer shapes.

Works on the expanded ``Graph`` in topological order, so each layer sees its
inputs' shapes. Resolves ``channels`` and the default normalization axis to
the feature axis of the layer's input under the model's data format, and
checks explicit normalization axes against it. Never imports a framework.
"""
from __future__ import annotations

from typing import Any

from netc import diagnostics as dg
from netc.catalog import LAYERS
from netc.catalog.spec import LayerSpec, ShapeError
from netc.catalog.types import (CHANNELS, AxisType, LayerType, LayerValue, Type, describe_value, string_options,
                               type_name)
from netc.compiler.evaluate import ArgValue, CallValue, Unhashable, freeze
from netc.compiler.graph import Graph, Node
from netc.diagnostics import Diagnostic, Span

MAX_DIM = 2 ** 31
NORMALIZATIONS_ON_FEATURES = ("BatchNormalization", "GroupNormalization")


def format_shape(shape: tuple) -> str:
    """A shape as Keras prints it, batch included: (None, 32, 32, 3)."""
    return "(" + ", ".join("None" if d is None else str(d) for d in (None,) + tuple(shape)) + ")"


def feature_axis(rank: int, data_format: str) -> int:
    """The feature axis of an input of ``rank`` (batch included), as LANGUAGE.md section 2 fixes it."""
    return 1 if data_format == "channels_first" and rank >= 3 else -1


class _Binding:
    """The arguments of one call bound by name, with the spans to blame."""

    def __init__(self, spec: LayerSpec):
        self.spec = spec
        self.values: dict[str, Any] = {}
        self.spans: dict[str, Span] = {}
        self.ok = True

    def with_defaults(self) -> dict[str, Any]:
        return {a.name: self.values.get(a.name, a.default) for a in self.spec.all_args}


# Layers that checked cleanly, by what decides the result: the layer, its argument values, the data format
# and its input shapes. Big specs repeat layers (a conv, its BN, its activation, block after block) and a
# search is checked at every corner of its space, where most layers do not change; only clean results are
# kept, so every diagnostic is still made afresh, with its own span.
_CLEAN: dict[tuple, tuple] = {}
MAX_CLEAN = 50_000


def _clean_key(node: Node, data_format: str, nodes: dict[str, Node]) -> tuple | None:
    call = node.call
    if call is None or call.receiver is not None:
        return None
    try:
        args = tuple([(a.name, freeze(a.value)) for a in call.args])
    except Unhashable:  # a layer passed as a value (a wrapper's argument): checked every time
        return None
    return (node.layer, data_format, args, tuple([nodes[i].shape for i in node.inputs]))


class Checker:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.file = graph.file
        self.diagnostics: list[Diagnostic] = []
        self.nodes = graph.by_id()

    def check(self) -> None:
        self._check_nodes()
        self._check_keras_names()

    def _check_keras_names(self) -> None:
        """Explicit ``name=`` arguments become Keras layer names, like labels and inputs: all must differ.

        Labels and input names are unique already (``expand`` reports those), so only
        ``name=`` can collide.
        """
        seen: dict[str, Node] = {node.label: node for node in self.graph.nodes if node.label}
        for node in self.graph.nodes:
            name = node.args.get("name")
            if not name:
                continue
            if name in seen and seen[name] is not node:
                self._error("NC105", f"the Keras layer name '{name}' is used twice (first on line {seen[name].line})",
                            node.span, "labels ('as NAME'), input names and name= arguments must all differ")
            else:
                seen[name] = node

    def _check_nodes(self) -> None:
        for node in self.graph.nodes:
            if node.layer in (None, "Input"):
                continue
            try:
                self._check_node(node)
            except Exception as e:  # a catalog bug must not crash a linter
                self._error("NC000", f"netc failed while checking '{node.layer}': {type(e).__name__}: {e}",
                            node.span, "please report this spec to netc's issue tracker")
                node.shape = None

    def _check_node(self, node: Node) -> None:
        """Check one layer; a layer that checked cleanly with the same arguments and inputs before is reused."""
        key = _clean_key(node, self.graph.data_format, self.nodes)
        hit = _CLEAN.get(key) if key is not None else None
        if hit is not None:
            args, node.shape, node.trainable_params, node.non_trainable_params = hit
            node.args = dict(args)
            return
        before = len(self.diagnostics)
        self._check_node_afresh(node)
        if key is not None and node.shape is not None and len(self.diagnostics) == before:
            if len(_CLEAN) >= MAX_CLEAN:
                _CLEAN.clear()
            _CLEAN[key] = (dict(node.args), node.shape, node.trainable_params, node.non_trainable_params)

    def _check_node_afresh(self, node: Node) -> None:
        spec = LAYERS[node.layer]
        binding = self._bind(spec, node.call)
        if spec.takes_data_format and "data_format" not in binding.values:
            binding.values["data_format"] = self.graph.data_format
        input_shapes = [self.nodes[i].shape for i in node.inputs]
        if any(shape is None for shape in input_shapes) or not input_shapes:
            return  # an earlier error; its diagnostic is already out
        axis_ok = self._resolve_axes(node, spec, binding, input_shapes[0])
        node.args = {name: binding.values[name] for name in binding.values}
        if not axis_ok:
            node.shape = input_shapes[0]  # normalization keeps its input's shape: later layers are still checked
            return
        if not binding.ok:
            return
        full = binding.with_defaults()
        shape_arg = input_shapes if spec.inputs != "one" else input_shapes[0]
        if spec.inputs == "one" and len(input_shapes) > 1:
            self._error("NC206", f"{spec.name} takes one input, but '<-' gives it {len(input_shapes)}",
                        node.span, "merge the tensors first, e.g. 'Concatenate() <- a, b'")
            return
        try:
            shape = tuple(spec.output_shape(full, shape_arg))
        except ShapeError as e:
            self._shape_error(node, binding, e, input_shapes)
            return
        if not self._dims_ok(node, shape, input_shapes):
            return
        trainable, non_trainable = spec.param_counts(full, shape_arg)
        node.shape, node.trainable_params, node.non_trainable_params = shape, trainable, non_trainable

    # -- arguments
    def _bind(self, spec: LayerSpec, call: CallValue) -> _Binding:
        return bind_arguments(spec, call, self._error, self._nested_layer)

    def _nested_layer(self, call: CallValue, expected) -> LayerValue | None:
        if call.receiver is not None or not isinstance(expected, LayerType) and not _mentions_layer(expected):
            self._error("NC201", f"'{call.func}(...)' is a call, but this argument takes {expected.describe()}",
                        call.span, "pass a plain value")
            return None
        spec = LAYERS.get(call.func)
        if spec is None:
            guess = dg.did_you_mean(call.func, LAYERS)
            self._error("NC101", f"unknown layer '{call.func}'" + (f"; did you mean '{guess}'?" if guess else ""),
                        call.func_span, "a wrapped layer comes from netc's catalog")
            return None
        binding = self._bind(spec, call)
        if not binding.ok:
            return None
        if spec.takes_data_format and "data_format" not in binding.values:
            binding.values["data_format"] = self.graph.data_format
        return LayerValue(spec.name, binding.with_defaults(), tuple(binding.values))

    # -- axes
    def _resolve_axes(self, node: Node, spec: LayerSpec, binding: _Binding, input_shape: tuple) -> bool:
        """Resolve ``channels`` and the default normalization axis; False when an explicit axis is wrong."""
        rank = len(input_shape) + 1
        feature = feature_axis(rank, self.graph.data_format)
        for name, value in list(binding.values.items()):
            if value is CHANNELS:
                binding.values[name] = feature
        axis_spec = spec.arg_index.get("axis")
        if spec.name not in NORMALIZATIONS_ON_FEATURES or axis_spec is None:
            return True
        if "axis" not in binding.values:  # normalize the features, whatever Keras's own default
            binding.values["axis"] = feature
            return True
        axis = binding.values["axis"]
        if not isinstance(axis, int) or isinstance(axis, bool):
            return True  # a type error, reported when binding
        return self._check_normalization_axis(node, spec, binding, axis, rank, feature, input_shape)

    def _check_normalization_axis(self, node, spec, binding, axis, rank, feature, input_shape) -> bool:
        span = binding.spans.get("axis", node.span)
        shown = format_shape(input_shape)
        if not -rank < axis < rank or axis % rank == 0:
            self._error("NC306", f"{spec.name}(axis={axis}) is outside its input {shown}, which has rank {rank} "
                                 f"(axis 0 is the batch)", span, f"use axis=channels (here {feature})")
            return False
        if axis % rank != feature % rank:
            self._error("NC304", f"{spec.name}(axis={axis}) normalizes a spatial axis of its input {shown} under "
                                 f"{self.graph.data_format}; the feature axis is {feature}", span,
                        f"did you mean axis={feature}? 'axis=channels' always means the feature axis")
            return False
        return True

    # -- shapes
    def _shape_error(self, node: Node, binding: _Binding, e: ShapeError, input_shapes) -> None:
        if node.role == "residual" and e.code == "NC301":
            shortcut, body = (format_shape(s) for s in input_shapes)
            depth = len(node.scope)
            if self.nodes[node.inputs[0]].scope[depth:depth + 2] == ("residual", "shortcut"):
                self._error("NC305", f"the residual's body gives {body} but its shortcut gives {shortcut}; they "
                                     "must have one shape to be added", node.span,
                            "make the shortcut map the input to the body's shape (filters and strides)")
            else:
                self._error("NC305", f"the residual body changes the shape from {shortcut} to {body}, so it "
                                     "cannot be added to its input", node.span,
                            "add a 'shortcut { ... }' that maps the input to the body's shape, e.g. a 1x1 Conv2D "
                            "with the body's filters and strides")
            return
        span = binding.spans.get(e.arg, node.span) if e.arg else node.span
        self._error(e.code, e.message, span, e.hint)

    def _dims_ok(self, node: Node, shape: tuple, input_shapes) -> bool:
        for dim in shape:
            if dim is not None and dim <= 0:
                received = ", ".join(format_shape(s) for s in input_shapes)
                self._error("NC302", f"{node.layer} would output {format_shape(shape)} from "
                                     f"{received}: a size of {dim}", node.span,
                            "use padding=\"same\", a smaller kernel or stride, or a larger input")
                return False
            if dim is not None and dim > MAX_DIM:
                self._error("NC004", f"{node.layer} would output a dimension of {dim:,}, beyond netc's limit "
                                     f"of {MAX_DIM:,}", node.span)
                return False
        return True

    def _error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(dg.make(code, message, span, self.file, hint))


def unknown_argument(spec, name: str) -> tuple[str, str]:
    """(message, hint) for an argument name a catalog entry does not take."""
    guess = dg.did_you_mean(name, spec.arg_index)
    return (f"{spec.name} has no argument '{name}'" + (f"; did you mean '{guess}'?" if guess else ""),
            f"signature: {signature(spec)}")


def bind_arguments(spec, call: CallValue, report, nested=None) -> _Binding:
    """Bind a call's arguments to a catalog entry by Keras's rules (positional, then keyword).

    ``report(code, message, span, hint)`` receives each problem; ``nested``
    turns a call written as an argument into a value (or None after reporting).
    """
    binding = _Binding(spec)
    positional = [a for a in call.args if a.name is None]
    if len(positional) > len(spec.args):
        extra = positional[len(spec.args)]
        report("NC202", f"{spec.name} takes at most {len(spec.args)} positional arguments but "
                        f"{len(positional)} were given", extra.span, f"signature: {signature(spec)}")
        binding.ok = False
    for arg_spec, arg in zip(spec.args, positional):
        _bind_one(binding, arg_spec.name, arg, report, nested)
    for arg in call.args:
        if arg.name is None:
            continue
        if arg.name not in spec.arg_index:
            message, hint = unknown_argument(spec, arg.name)
            report("NC102", message, arg.name_span or arg.span, hint)
            binding.ok = False
        elif arg.name in binding.values:
            report("NC202", f"argument '{arg.name}' of {spec.name} is given twice", arg.name_span or arg.span,
                   "pass each argument once")
            binding.ok = False
        else:
            _bind_one(binding, arg.name, arg, report, nested)
    for arg_spec in spec.args:
        if arg_spec.required and arg_spec.name not in binding.values:
            report("NC203", f"{spec.name} needs argument '{arg_spec.name}'", call.func_span,
                   f"signature: {signature(spec)}")
            binding.ok = False
    return binding


def _bind_one(binding: _Binding, name: str, arg: ArgValue, report, nested) -> None:
    arg_spec = binding.spec.arg_index[name]
    value = arg.value
    if isinstance(value, CallValue):
        value = nested(value, arg_spec.type) if nested is not None else None
        if value is None:
            binding.values[name] = None  # given, though unusable: no "missing argument" on top
            if nested is None:
                report("NC201", f"argument '{name}' of {binding.spec.name} takes {arg_spec.type.describe()}, "
                                f"not a call", arg.span, f"signature: {signature(binding.spec)}")
            binding.ok = False
            return
    binding.values[name] = value
    binding.spans[name] = arg.span
    if value is CHANNELS and takes_axis(arg_spec.type):
        return  # resolved once the input's rank is known
    if not arg_spec.type.accepts(value):
        options = string_options(arg_spec.type) if isinstance(value, str) else ()
        guess = dg.did_you_mean(value, options) if options else None
        report("NC201", f"argument '{name}' of {binding.spec.name} takes {arg_spec.type.describe()}, "
                        f"but received {describe_value(value)} ({type_name(value)})"
               + (f'; did you mean "{guess}"?' if guess else ""), arg.span,
               ("it takes: " + ", ".join(options)) if options else f"signature: {signature(binding.spec)}")
        binding.ok = False


def takes_axis(t) -> bool:
    """Whether an argument type is an axis, the only place ``channels`` means something."""
    return isinstance(t, AxisType) or any(takes_axis(o) for o in getattr(t, "options", ()) if isinstance(o, Type))


def _mentions_layer(t) -> bool:
    return isinstance(t, LayerType) or any(_mentions_layer(o) for o in getattr(t, "options", ())
                                           if not isinstance(o, (str, int, float)))


def signature(spec: LayerSpec) -> str:
    parts = [a.name if a.required else f"{a.name}={describe_value(a.default)}" for a in spec.args[:6]]
    more = ", ..." if len(spec.args) > 6 else ""
    return f"{spec.name}({', '.join(parts)}{more})"


def check(graph: Graph) -> list[Diagnostic]:
    """The entry point of this stage: fills shapes and params into ``graph``; returns diagnostics."""
    checker = Checker(graph)
    checker.check()
    return checker.diagnostics
