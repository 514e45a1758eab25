"""Stage 2: a model definition -> ``graph.Graph``.

Binds the model's parameters, inlines blocks, unrolls ``repeat``, decides
``if``, turns ``residual`` and ``branch`` into explicit merge nodes and
resolves tensor names. Layer arguments are evaluated here but bound against
the catalog later, in ``check``.
"""
from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any, Callable

from netc import diagnostics as dg
from netc.catalog import LAYERS
from netc.catalog.types import describe_value, type_name
from netc.compiler import nodes as n
from netc.compiler.evaluate import ArgValue, CallValue, EvalError, evaluate, evaluate_call
from netc.compiler.graph import Graph, Node
from netc.diagnostics import Diagnostic, Span

MAX_NODES = 50_000
MAX_BLOCK_DEPTH = 64
DATA_FORMATS = ("channels_last", "channels_first")
PARAM_TYPES = ("int", "float", "bool", "str", "tuple", "list", "any")


class _Stop(Exception):
    """Expansion cannot go on (a limit was hit); the diagnostic is already recorded."""


def check_param_value(type_: str | None, value: Any) -> Any:
    """``value`` converted to the declared parameter type, or raise TypeError with what was expected."""
    if type_ in (None, "any"):
        return value
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "tuple": isinstance(value, tuple),
        "list": isinstance(value, list),
    }.get(type_, True)
    if not ok:
        raise TypeError(type_)
    return float(value) if type_ == "float" else value


@dataclass
class _Frame:
    """Where expansion stands inside one model or block instance."""

    env: dict[str, Any]
    labels: dict[str, str]
    label_spans: dict[str, Span]
    current: str | None
    scope: tuple[str, ...]
    in_model: bool
    used: set = field(default_factory=set)
    scope_ids: tuple[int, ...] = ()  # one id per scope entry: which block call, residual or branch path


class Expander:
    def __init__(self, module: n.Module, file: str):
        self.module = module
        self.file = file
        self.blocks = {d.name: d for d in module.of_kind("block")}
        self.diagnostics: list[Diagnostic] = []
        self.nodes: list[Node] = []
        self.data_format = "channels_last"
        self.block_stack: list[str] = []
        self.scope_count = 0  # scope ids: each block call, residual and branch path gets its own
        self.model_statements: set[int] = set()

    # -- entry
    def expand(self, model: n.ModelDef, overrides: dict[str, Any]) -> Graph:
        self.model_statements = set(map(id, model.body))
        env = self.bind_model_params(model, overrides)
        self.data_format = self._declared_data_format(model, env)
        frame = _Frame(env, {}, {}, None, (), True)
        outputs: list[tuple[str, str | None]] | None = None
        try:
            for stmt in model.body:
                if isinstance(stmt, n.OutputStmt):
                    outputs = self._outputs(stmt, frame, outputs)
                else:
                    self._statement(stmt, frame)
        except _Stop:
            pass
        if outputs is None:
            outputs = [] if frame.current is None else [(frame.current, self._label_of(frame.current))]
            if frame.current is None and not self._has_error():
                self._error("NC206", f"model '{model.name}' has no input", model.name_span,
                            "declare one, e.g. 'input x: (28, 28, 1)'")
        self._warn_unused(frame, outputs)
        return Graph(model.name, self.file, env, self.data_format, self.nodes, outputs)

    # -- parameters
    def bind_model_params(self, model: n.ModelDef, overrides: dict[str, Any]) -> dict[str, Any]:
        lazy = getattr(overrides, "lazy_names", ())  # a search's overrides: bound when first read
        env: dict[str, Any] = LazyEnv() if lazy else {}
        declared = {p.name for p in model.params}
        for name in overrides:
            if name not in declared:
                guess = dg.did_you_mean(name, declared)
                self._error("NC108", f"model '{model.name}' has no parameter '{name}'"
                            + (f"; did you mean '{guess}'?" if guess else ""), model.name_span,
                            "its parameters are: " + (", ".join(sorted(declared)) or "none"))
        for param in _first_of_each(model.params):
            if param.name in lazy:
                env.defer(param.name, lambda p=param: self._typed(p, overrides[p.name], p.span, "given"))
                continue
            if param.name in overrides:
                value = self._typed(param, overrides[param.name], param.span, "given", fallback=_BAD)
                if value is not _BAD:
                    env[param.name] = value
                    continue
            if param.default is not None:  # also after a bad override, so later checks see sane values
                env[param.name] = self._default(param, env)
            else:
                self._error("NC203", f"model '{model.name}' needs a value for parameter '{param.name}'",
                            param.span, f"give it a default ('{param.name}: {param.type or 'int'} = ...') "
                                        f"or pass it (--param {param.name}=...)")
                env[param.name] = None
        return env

    def _default(self, param: n.Param, env: dict[str, Any]) -> Any:
        try:
            value = evaluate(param.default, env)
        except EvalError as e:
            self.diagnostics.append(e.diagnostic(self.file))
            return None
        return self._typed(param, value, param.default.span, "its default is")

    def _typed(self, param: n.Param, value: Any, span: Span, how: str, fallback: Any = None) -> Any:
        """``value`` as the parameter's declared type; on a mismatch, report it and return ``fallback``
        (the value itself when no fallback is given)."""
        try:
            return check_param_value(param.type if param.type in PARAM_TYPES else None, value)
        except TypeError:
            self._error("NC201", f"parameter '{param.name}' is declared {param.type} but {how} "
                                 f"{describe_value(value)} ({type_name(value)})", span,
                        f"pass a value of type {param.type}")
            return value if fallback is None else fallback

    def _declared_data_format(self, model: n.ModelDef, env: dict[str, Any]) -> str:
        found = [s for s in model.body if isinstance(s, n.DataFormatStmt)]
        for extra in found[1:]:
            self._error("NC105", "data_format is declared twice", extra.span, "declare it once per model")
        if not found:
            return "channels_last"
        stmt = found[0]
        value = env.get(stmt.value, stmt.value)
        if value not in DATA_FORMATS:
            guess = dg.did_you_mean(str(value), DATA_FORMATS)
            self._error("NC204", f"unknown data_format '{value}'" + (f"; did you mean '{guess}'?" if guess else ""),
                        stmt.value_span, "write 'data_format channels_last' or 'data_format channels_first'")
            return "channels_last"
        return value

    # -- statements
    def _statement(self, stmt: n.Stmt, frame: _Frame) -> None:
        if isinstance(stmt, n.LayerStmt):
            self._layer_statement(stmt, frame)
        elif isinstance(stmt, n.InputStmt):
            self._input(stmt, frame)
        elif isinstance(stmt, n.FromStmt):
            found = self._tensor(stmt.name, stmt.name_span, frame)
            frame.current = found if found is not None else self._poison(stmt.name_span, stmt.span.line, frame)
        elif isinstance(stmt, n.RepeatStmt):
            self._repeat(stmt, frame)
        elif isinstance(stmt, n.IfStmt):
            self._if(stmt, frame)
        elif isinstance(stmt, n.ResidualStmt):
            self._residual(stmt, frame)
        elif isinstance(stmt, n.BranchStmt):
            self._branch(stmt, frame)
        elif isinstance(stmt, n.DataFormatStmt):
            if id(stmt) not in self.model_statements:
                self._error("NC206", "data_format is declared at the top level of a model, not inside a block, "
                                     "repeat, if, residual or branch", stmt.span, "move it to the model's top level")
        elif isinstance(stmt, n.OutputStmt):
            self._error("NC206", "'output' belongs to the model's top level", stmt.span,
                        "move it out of the block, repeat, if or residual")

    def _input(self, stmt: n.InputStmt, frame: _Frame) -> None:
        if not frame.in_model or frame.scope:
            self._error("NC206", "inputs are declared at the model's top level", stmt.span,
                        "a block receives the tensor of the statement before its call")
            return
        shape = self._eval(stmt.shape, frame.env)
        if shape is not _BAD:
            shape = self._input_shape(shape, stmt.shape.span)
        node = self._add(Node(self._next_id(), "Input", [], stmt.name_span, stmt.span.line, label=stmt.name,
                              shape=shape if shape is not _BAD else None))
        self._define_label(stmt.name, stmt.name_span, node.id, frame)
        frame.current = node.id

    def _input_shape(self, shape: Any, span: Span) -> Any:
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = (shape,)
        dims_ok = isinstance(shape, tuple) and all(
            d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in shape)
        if not dims_ok:
            self._error("NC201", f"an input's shape is a tuple of sizes, but this is {describe_value(shape)}", span,
                        "write it without the batch dimension, e.g. (28, 28, 1) or (none,) for a sequence")
            return _BAD
        bad = [d for d in shape if d is not None and d <= 0]
        if bad:
            self._error("NC302", f"input shape {describe_value(shape)} has a size of {bad[0]}", span,
                        "sizes are positive; use none for a size known only at run time")
            return _BAD
        return shape

    def _layer_statement(self, stmt: n.LayerStmt, frame: _Frame) -> None:
        call = stmt.call
        if call.func in self.blocks:
            if stmt.merge_inputs:
                self._error("NC206", f"block '{call.func}' takes the stack's tensor, not '<-' inputs",
                            stmt.merge_inputs[0].span, "use 'from NAME' before the block call")
            self._inline_block(call, frame)
        else:
            inputs = self._layer_inputs(stmt, frame)
            self._layer_node(call, inputs, frame, stmt.span.line)
        if stmt.label is not None and frame.current is not None:
            self._define_label(stmt.label.name, stmt.label.span, frame.current, frame)

    def _layer_inputs(self, stmt: n.LayerStmt, frame: _Frame) -> list[str] | None:
        if stmt.merge_inputs:
            ids = [self._tensor(label.name, label.span, frame) for label in stmt.merge_inputs]
            return None if None in ids else ids
        if frame.current is None:
            self._error("NC206", f"'{stmt.call.func}' has no input: no input or tensor comes before it",
                        stmt.call.func_span, "declare an input first ('input x: (...)'), or start with 'from NAME'")
            return None
        spec = LAYERS.get(stmt.call.func)
        if spec is not None and spec.inputs == "attention":
            return [frame.current, frame.current]  # on the stack: query and value are the same tensor
        return [frame.current]

    def _layer_node(self, call: n.Call, inputs: list[str] | None, frame: _Frame, line: int,
                    role: str | None = None) -> Node:
        layer = call.func if call.func in LAYERS else None
        if layer is None:
            self._unknown_layer(call)
        value = self._eval_call(call, frame.env)
        node = self._add(Node(self._next_id(), layer, inputs or [], call.func_span, line,
                              call=value, scope=frame.scope, role=role, scope_ids=frame.scope_ids))
        if inputs is None or value is None:
            node.layer = None  # an upstream error: keep the graph connected, check nothing here
        frame.current = node.id
        return node

    def _unknown_layer(self, call: n.Call) -> None:
        self.diagnostics.append(unknown_callable(call, self.blocks, self.file))

    def _eval_call(self, call: n.Call, env: dict[str, Any]) -> CallValue | None:
        try:
            return evaluate_call(call, env)
        except EvalError as e:
            self.diagnostics.append(e.diagnostic(self.file))
            return None

    def _inline_block(self, call: n.Call, frame: _Frame) -> None:
        block = self.blocks[call.func]
        if call.func in self.block_stack:  # a cycle: ``definitions`` reports it once, statically
            frame.current = self._poison(call.func_span, call.span.line, frame)
            return
        if len(self.block_stack) >= MAX_BLOCK_DEPTH:
            self._error("NC004", f"blocks nest more than {MAX_BLOCK_DEPTH} calls deep", call.func_span)
            raise _Stop
        value = self._eval_call(call, frame.env)
        env = self._bind_block_args(block, value, call) if value is not None else None
        if env is None or frame.current is None:
            if frame.current is None:
                self._error("NC206", f"block '{call.func}' has no input: no input or tensor comes before it",
                            call.func_span, "declare an input first")
            frame.current = self._poison(call.func_span, call.span.line, frame)
            return
        inner = _Frame(env, {}, {}, frame.current, frame.scope + (f"block {block.name}",), False,
                       scope_ids=frame.scope_ids + (self._new_scope_id(),))
        self.block_stack.append(block.name)
        try:
            for stmt in block.body:
                self._statement(stmt, inner)
        finally:
            self.block_stack.pop()
        frame.current = inner.current

    def _bind_block_args(self, block: n.BlockDef, value: CallValue, call: n.Call) -> dict[str, Any] | None:
        params = block.params  # duplicates and types were checked once, with the definitions
        by_name = {p.name: p for p in params}
        given: dict[str, ArgValue] = {}
        ok = True
        positional = [a for a in value.args if a.name is None]
        if len(positional) > len(params):
            extra = positional[len(params)]
            self._error("NC202", f"block '{block.name}' takes {len(params)} positional arguments but "
                                 f"{len(positional)} were given", extra.span, f"signature: {_signature(block)}")
            ok = False
        for param, arg in zip(params, positional):
            given[param.name] = arg
        for arg in value.args:
            if arg.name is None:
                continue
            if arg.name not in by_name:
                guess = dg.did_you_mean(arg.name, by_name)
                self._error("NC102", f"block '{block.name}' has no argument '{arg.name}'"
                            + (f"; did you mean '{guess}'?" if guess else ""), arg.name_span or arg.span,
                            f"signature: {_signature(block)}")
                ok = False
            elif arg.name in given:
                self._error("NC202", f"argument '{arg.name}' of block '{block.name}' is given twice",
                            arg.name_span or arg.span)
                ok = False
            else:
                given[arg.name] = arg
        env: dict[str, Any] = {}
        for param in params:
            if param.name in given:
                env[param.name] = self._typed(param, given[param.name].value, given[param.name].span, "receives")
            elif param.default is not None:
                env[param.name] = self._default(param, env)
            else:
                self._error("NC203", f"block '{block.name}' needs argument '{param.name}'", call.func_span,
                            f"signature: {_signature(block)}")
                ok = False
        return env if ok else None

    def _repeat(self, stmt: n.RepeatStmt, frame: _Frame) -> None:
        count = self._eval(stmt.count, frame.env)
        if count is _BAD:
            return
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            self._error("NC201", f"repeat takes a count of zero or more, but received {describe_value(count)}",
                        stmt.count.span, "write an integer expression, e.g. 'repeat depth { ... }'")
            return
        if count > MAX_NODES:
            self._error("NC004", f"repeat {count} exceeds netc's limit of {MAX_NODES:,} layers", stmt.count.span)
            raise _Stop
        for i in range(count):
            env = frame.env if stmt.var is None else _with_name(frame.env, stmt.var.name, i)
            saved_env, frame.env = frame.env, env
            try:
                for inner in stmt.body:
                    self._statement(inner, frame)
            finally:
                frame.env = saved_env
        self._label_output(stmt.label, frame)

    def _if(self, stmt: n.IfStmt, frame: _Frame) -> None:
        condition = self._eval(stmt.condition, frame.env)
        if condition is _BAD:
            return
        if not isinstance(condition, bool):
            self._error("NC201", f"'if' needs a bool, but the condition is {describe_value(condition)} "
                                 f"({type_name(condition)})", stmt.condition.span,
                        "compare it, e.g. 'if depth > 2 { ... }'")
            return
        body = stmt.then_body if condition else (stmt.else_body or ())
        for inner in body:
            self._statement(inner, frame)

    def _residual(self, stmt: n.ResidualStmt, frame: _Frame) -> None:
        start = frame.current
        if start is None:
            self._error("NC206", "a residual needs an input: no input or tensor comes before it", stmt.span)
            return
        scope, ids = frame.scope + ("residual",), frame.scope_ids + (self._new_scope_id(),)
        body_out = self._sub_stack(stmt.body, frame, start, scope, ids)
        shortcut_out = start if stmt.shortcut is None else self._sub_stack(
            stmt.shortcut, frame, start, scope + ("shortcut",), ids + (self._new_scope_id(),))
        keyword = Span(stmt.span.line, stmt.span.column, stmt.span.line, stmt.span.column + len("residual"))
        add = n.Call(keyword, "Add", keyword, ())
        self._layer_node(add, [shortcut_out, body_out], frame, stmt.span.line, role="residual")
        self._label_output(stmt.label, frame)

    def _branch(self, stmt: n.BranchStmt, frame: _Frame) -> None:
        start = frame.current
        if start is None:
            self._error("NC206", "a branch needs an input: no input or tensor comes before it", stmt.span)
            return
        spec = LAYERS.get(stmt.merge.func)
        if spec is not None and spec.inputs != "many":
            self._error("NC206", f"a branch merges its paths with a merge layer, but '{stmt.merge.func}' takes "
                                 "one input", stmt.merge.func_span, "use Concatenate, Add, Average, ...")
        outs = [self._sub_stack(path, frame, start, frame.scope + (f"branch path {i + 1}",))
                for i, path in enumerate(stmt.paths)]
        if not outs:
            self._error("NC206", "a branch needs at least one path", stmt.merge.func_span,
                        "add 'path { ... }' for each parallel stack")
        self._layer_node(stmt.merge, outs or [start], frame, stmt.span.line, role="branch")
        self._label_output(stmt.label, frame)

    def _sub_stack(self, body: tuple[n.Stmt, ...], frame: _Frame, start: str, scope: tuple[str, ...],
                   scope_ids: tuple[int, ...] | None = None) -> str:
        """Expand ``body`` from ``start`` in ``frame``'s scope; return the tensor it ends on.

        ``scope_ids`` identify the scope's new entries (fresh ids when not given).
        """
        if scope_ids is None:
            scope_ids = frame.scope_ids + tuple(self._new_scope_id() for _ in scope[len(frame.scope):])
        saved = frame.current, frame.scope, frame.scope_ids
        frame.current, frame.scope, frame.scope_ids = start, scope, scope_ids
        try:
            for stmt in body:
                self._statement(stmt, frame)
            return frame.current
        finally:
            frame.current, frame.scope, frame.scope_ids = saved

    def _new_scope_id(self) -> int:
        self.scope_count += 1
        return self.scope_count

    def _outputs(self, stmt: n.OutputStmt, frame: _Frame, previous) -> list[tuple[str, str | None]]:
        if previous is not None:
            self._error("NC105", "'output' is declared twice", stmt.span, "list every output in one statement")
        outs = []
        for label in stmt.names:
            node_id = self._tensor(label.name, label.span, frame)
            if node_id is not None:
                outs.append((node_id, label.name))
        return outs

    # -- names
    def _define_label(self, name: str, span: Span, node_id: str, frame: _Frame) -> None:
        earlier = frame.label_spans.get(name)
        if earlier is not None and earlier != span:  # the same statement again (a repeat) rebinds it
            self._error("NC105", f"tensor name '{name}' is already defined on line {earlier.line}", span,
                        "choose another name")
            return
        if earlier is not None and frame.in_model and not frame.scope:  # a repeat rebinds it: the last one names
            previous = self._node(frame.labels[name])
            if previous is not None and previous.layer != "Input":
                previous.label = None
        frame.labels[name] = node_id
        frame.label_spans[name] = span
        if frame.in_model and not frame.scope:
            node = self._node(node_id)
            if node is not None and node.layer != "Input":
                node.label = name

    def _label_output(self, label: n.Label | None, frame: _Frame) -> None:
        if label is not None and frame.current is not None:
            self._define_label(label.name, label.span, frame.current, frame)

    def _tensor(self, name: str, span: Span, frame: _Frame) -> str | None:
        if name in frame.labels:
            frame.used.add(name)
            return frame.labels[name]
        guess = dg.did_you_mean(name, frame.labels)
        where = "" if frame.in_model else " in this block (a block sees only its own names)"
        self._error("NC104", f"unknown tensor '{name}'{where}" + (f"; did you mean '{guess}'?" if guess else ""),
                    span, "name a tensor with 'as NAME' on an earlier statement, or declare an input")
        return None

    def _label_of(self, node_id: str) -> str | None:
        node = self._node(node_id)
        return None if node is None else node.label

    def _warn_unused(self, frame: _Frame, outputs) -> None:
        if self._has_error():
            return  # after an error the graph is cut short: "unused" would only echo it
        output_ids = {node_id for node_id, _ in outputs}
        consumed = {i for node in self.nodes for i in node.inputs}
        for node in self.nodes:
            if node.layer == "Input" and node.id not in consumed and node.id not in output_ids:
                self._error("NC109", f"input '{node.label}' is not used", node.span,
                            "use it with 'from NAME' or '<- NAME', or remove it", severity=dg.WARNING)

    # -- helpers
    def _eval(self, expr: n.Expr, env: dict[str, Any]) -> Any:
        try:
            return evaluate(expr, env)
        except EvalError as e:
            self.diagnostics.append(e.diagnostic(self.file))
            return _BAD

    def _poison(self, span: Span, line: int, frame: _Frame) -> str:
        """A stand-in tensor after an error, so later statements still get checked (their shapes are not)."""
        return self._add(Node(self._next_id(), None, [], span, line, scope=frame.scope,
                              scope_ids=frame.scope_ids)).id

    def _next_id(self) -> str:
        return f"n{len(self.nodes)}"

    def _add(self, node: Node) -> Node:
        if len(self.nodes) >= MAX_NODES:
            self._error("NC004", f"the model has more than {MAX_NODES:,} layers", node.span,
                        "netc stops there; reduce repeat counts")
            raise _Stop
        self.nodes.append(node)
        return node

    def _node(self, node_id: str) -> Node | None:
        index = int(node_id[1:])
        return self.nodes[index] if index < len(self.nodes) else None

    def _has_error(self) -> bool:
        return dg.has_errors(self.diagnostics)

    def _error(self, code: str, message: str, span: Span, hint: str | None = None, severity: str | None = None):
        self.diagnostics.append(dg.make(code, message, span, self.file, hint, severity))


class LazyEnv(dict):
    """Parameter bindings where some names are bound only when an expression first reads them.

    A search samples its parameters this way (define-by-run): a parameter read
    only inside an ``if`` branch that is not taken is never sampled. Only the
    names bound so far are items of the dict; deferred names are ``in`` it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.deferred: dict[str, Callable[[], Any]] = {}

    def defer(self, name: str, bind: Callable[[], Any]) -> None:
        self.deferred[name] = bind

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or name in self.deferred

    def __missing__(self, name: str) -> Any:
        bind = self.deferred.pop(name)  # KeyError for a name that is neither bound nor deferred
        value = self[name] = bind()
        return value

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default


def _with_name(env: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """``env`` plus one binding (a repeat's variable); a LazyEnv stays lazy behind it."""
    if isinstance(env, LazyEnv) or isinstance(env, ChainMap):
        return ChainMap({name: value}, env)
    return {**env, name: value}


class _Bad:
    def __repr__(self) -> str:
        return "<bad>"


_BAD = _Bad()


def unknown_callable(call: n.Call, blocks, file: str) -> Diagnostic:
    """NC101 for a call that names neither a catalog layer nor a block of the file."""
    guess = dg.did_you_mean(call.func, list(LAYERS) + list(blocks))
    kind = "block" if call.func[:1].islower() else "layer"
    hint = ("layers are Keras's names (netc explain NC101); blocks are defined in the file"
            if guess is None else f"replace it with '{guess}'")
    return dg.make("NC101", f"unknown {kind} '{call.func}'" + (f"; did you mean '{guess}'?" if guess else ""),
                   call.func_span, file, hint)


def _first_of_each(params: tuple[n.Param, ...]) -> list[n.Param]:
    """Parameters with duplicates dropped (``definitions`` reports them)."""
    seen: set[str] = set()
    return [p for p in params if not (p.name in seen or seen.add(p.name))]


def _signature(block: n.BlockDef) -> str:
    parts = [p.name + (f": {p.type}" if p.type else "") + (" = ..." if p.default is not None else "")
             for p in block.params]
    return f"{block.name}({', '.join(parts)})"


def expand(module: n.Module, model: n.ModelDef, overrides: dict[str, Any], file: str
           ) -> tuple[Graph, list[Diagnostic]]:
    """The entry point of this stage."""
    expander = Expander(module, file)
    graph = expander.expand(model, overrides)
    return graph, expander.diagnostics
