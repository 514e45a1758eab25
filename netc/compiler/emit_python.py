"""Stage 6: a checked model -> a readable, self-contained Keras Python module (``netc emit``).

The code is written from the typed tree, not from the expanded graph, so it
keeps the spec's structure: a block becomes a function ``def sep_bn(x, filters,
kernel=3)``, ``repeat`` a ``for`` loop, ``if`` an ``if`` on the parameter
values, a residual ``shortcut = x ... x = layers.Add()([shortcut, x])``, a
branch one variable per path and then the merge. The model's parameters
become the arguments of ``build_model`` with the spec's defaults, or the
values bound with ``--param``. Layer arguments are written as in the spec;
what only the checks know comes from the checked graph of the same
parameters: the axis that ``channels`` and a default normalization axis
resolve to at each call site, and ``data_format`` (written only when it is
``channels_first``: every layer that takes it defaults to Keras's image data
format, channels_last unless configured otherwise).

Never imports a framework and never runs the code it writes; the text is laid
out as ``ruff format`` lays it out (``netc.pyformat``).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from netc import diagnostics as dg
from netc.catalog import LAYERS
from netc.catalog.types import CHANNELS
from netc.compiler import nodes as n
from netc.compiler.evaluate import FUNCTIONS, EvalError, evaluate
from netc.compiler.graph import Graph
from netc.diagnostics import Diagnostic, Span
from netc.pyformat import Bracket, Ops, Text, call, flat, identifier, lines, literal, literal_doc, seq, string

PYTHON_TYPES = {"int": "int", "float": "float", "bool": "bool", "str": "str", "tuple": "tuple", "list": "list"}
# Names the emitted module uses itself; spec names that collide get a ``_`` appended.
GLOBAL_NAMES = frozenset({"keras", "layers", "build_model", "channels_axis", "range", "len", "_", "True", "False",
                          "None", "model", "np", "numpy", "math"} | set(FUNCTIONS))
# The spec's arithmetic functions (``int(16 * alpha)``, ``max(8, c)``) are Python's, or math's.
PYTHON_FUNCTIONS = {name: f"math.{name}" if name in ("floor", "ceil") else name for name in FUNCTIONS}
STACK_NAMES = ("x", "h", "t", "y", "z")

_PRECEDENCE = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
               "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6}
_ATOM, _UNARY, _NOT = 9, 7, 3
# ruff's split priority of each operator: a long expression splits before the operators of the lowest.
_SPLIT_PRIORITY = {"or": 14, "and": 14, "==": 10, "!=": 10, "<": 10, "<=": 10, ">": 10, ">=": 10,
                   "+": 5, "-": 5, "*": 4, "/": 4, "//": 4, "%": 4}


class EmitError(Exception):
    """A construct the emitter cannot write faithfully; becomes an NC000-style diagnostic."""

    def __init__(self, message: str, span: Span | None = None):
        super().__init__(message)
        self.message = message
        self.span = span or Span.point()


@dataclass
class _Fn:
    """The Python names of one emitted function."""

    params: dict[str, str]            # spec parameter (or loop variable) -> Python name
    labels: dict[str, str]            # spec tensor name -> Python name
    var: str                          # the variable the stack flows through
    taken: set[str]                   # every Python name in use in the function
    in_model: bool
    out: list[str] = field(default_factory=list)


class ModelEmitter:
    def __init__(self, module: n.Module, model: n.ModelDef, graph: Graph, source: str,
                 overrides: dict[str, Any]):
        self.module = module
        self.model = model
        self.graph = graph
        self.source_lines = source.splitlines()
        self.overrides = overrides
        self.data_format = graph.data_format
        self.blocks = {b.name: b for b in module.of_kind("block")}
        self.nodes_at: dict[Span, list] = defaultdict(list)
        for node in graph.nodes:
            if node.layer not in (None, "Input"):
                self.nodes_at[node.span].append(node)
        self.used_blocks = self._reachable_blocks()
        self.function_names: dict[str, str] = {}
        taken = set(GLOBAL_NAMES)
        for name in self.used_blocks:
            self.function_names[name] = identifier(name, taken)
            taken.add(self.function_names[name])
        self.global_names = frozenset(taken)
        self.plans = {name: self._plan(self.blocks[name].params, self.blocks[name].body, False)
                      for name in self.used_blocks}
        self.needs_channels_axis = False
        self.needs_math = False

    # -- what to write
    def _reachable_blocks(self) -> list[str]:
        found: set[str] = set()

        def visit(body) -> None:
            for stmt in _walk(body):
                if isinstance(stmt, n.LayerStmt) and stmt.call.func in self.blocks and stmt.call.func not in found:
                    found.add(stmt.call.func)
                    visit(self.blocks[stmt.call.func].body)

        visit(self.model.body)
        return [b.name for b in self.module.of_kind("block") if b.name in found and b.name in self.blocks
                and self.blocks[b.name] is b]

    def _plan(self, params: tuple[n.Param, ...], body: tuple[n.Stmt, ...], in_model: bool) -> _Fn:
        labels: list[str] = []
        loop_vars: list[str] = []
        for stmt in _walk(body):
            label = getattr(stmt, "label", None)
            if label is not None:
                labels.append(label.name)
            if isinstance(stmt, n.InputStmt):
                labels.append(stmt.name)
            if isinstance(stmt, n.RepeatStmt) and stmt.var is not None:
                loop_vars.append(stmt.var.name)
        spec_names = {p.name for p in params} | set(labels) | set(loop_vars)
        var = next((v for v in STACK_NAMES if v not in spec_names), "x_")
        taken = set(self.global_names) | {var}
        names: dict[str, str] = {}
        for p in params:
            if p.name not in names:
                names[p.name] = identifier(p.name, taken)
                taken.add(names[p.name])
        label_names: dict[str, str] = {}
        for label in labels:
            if label not in label_names:
                label_names[label] = identifier(label, taken)
                taken.add(label_names[label])
        return _Fn(names, label_names, var, taken, in_model)

    # -- the module
    def module_code(self, extra: str = "") -> str:
        functions = [(self._leading_comments(self.blocks[name]), self._block_function(self.blocks[name]))
                     for name in self.used_blocks]
        functions.append((self._leading_comments(self.model), self._model_function()))
        imports = ("import math\n\n" if self.needs_math else "") + "import keras\nfrom keras import layers"
        parts = [self._docstring(), imports]
        if self.needs_channels_axis:
            parts.append(CHANNELS_AXIS_HELPER)
        for comments, body in functions:
            parts.append("\n".join(comments + body))
        if extra:
            parts.append(extra)
        parts.append(MAIN)
        head, rest = parts[0], parts[1:]
        return head + "\n\n" + "\n\n\n".join(rest) + "\n"

    def _docstring(self) -> str:
        path = self.graph.file.replace("\\", "/").replace('"', "'")
        bound = ""
        if self.overrides:
            shown = ", ".join(f"{k}={literal(v)}" for k, v in self.overrides.items())
            bound = f"\n\nBound parameters: {shown}."
        return (f'"""Model {self.model.name} from {path}, written out by netc.{bound}\n\n'
                f"build_model() returns the keras.Model; its arguments are the spec's parameters.\n"
                f'"""')

    def _leading_comments(self, definition: n.Definition) -> list[str]:
        """The ``#`` lines right above a definition in the spec, as Python comments."""
        found: list[str] = []
        line = definition.span.line - 1
        while line >= 1:
            text = self.source_lines[line - 1].strip() if line <= len(self.source_lines) else ""
            if not text.startswith("#"):
                break
            body = text[1:]
            found.append("#" + (body if body.startswith(" ") or not body else " " + body).rstrip())
            line -= 1
        if line == 0:
            return []  # the file's header, not this definition's
        found.reverse()
        return found

    def _param_docs(self, params: tuple[n.Param, ...], fn: _Fn, bound: dict[str, Any] | None
                    ) -> tuple[list, list[str]]:
        """The ``def`` parameters, and the statements that fill defaults computed from other parameters."""
        docs, late = [], []
        seen: set[str] = set()
        for p in params:
            if p.name in seen:
                continue
            seen.add(p.name)
            py = fn.params[p.name]
            annotation = PYTHON_TYPES.get(p.type or "")
            if bound is not None and p.name in bound:
                default: Any = literal_doc(bound[p.name])
            elif p.default is None:
                docs.append(Text(py + (f": {annotation}" if annotation else "")))
                continue
            elif _names_in(p.default):
                late.append(f"if {py} is None:")
                late += [line[4:] for line in lines(seq(f"{py} = ", self._expr(p.default, fn)), 2)]
                docs.append(Text(f"{py}: {annotation} | None = None" if annotation else f"{py}=None"))
                continue
            else:
                default = self._default_doc(p)
            docs.append(seq(f"{py}: {annotation} = " if annotation else f"{py}=", default))
        return docs, late

    def _default_doc(self, p: n.Param):
        expr = p.default
        if p.type == "float" and isinstance(expr, n.Literal) and type(expr.value) is int:
            return Text(literal(float(expr.value)))
        return self._expr(expr, _Fn({}, {}, "x", set(), False))

    def _block_function(self, block: n.BlockDef) -> list[str]:
        fn = self.plans[block.name]
        params, late = self._param_docs(block.params, fn, None)
        header = seq("def ", self.function_names[block.name], Bracket("(", (Text(fn.var), *params), ")"), ":")
        fn.out = []
        for line in late:
            fn.out.append("    " + line)
        end = self._body(block.body, fn, fn.var, fn.var, 1, top=False)
        fn.out.append(f"    return {end}")
        return lines(header) + fn.out

    def model_parameter_names(self) -> dict[str, str]:
        """Each model parameter's name as an argument of ``build_model``."""
        return dict(self._plan(self.model.params, self.model.body, True).params)

    def _model_function(self) -> list[str]:
        fn = self._plan(self.model.params, self.model.body, True)
        bound = {k: self.graph.params[k] for k in self.overrides if k in self.graph.params}
        params, late = self._param_docs(self.model.params, fn, bound)
        header = seq("def build_model", Bracket("(", tuple(params), ")") if params else Text("()"),
                     " -> keras.Model:")
        fn.out = ["    " + line for line in late]
        cur: str | None = None
        outputs: list[str] | None = None
        for stmt in self.model.body:
            if isinstance(stmt, n.OutputStmt):
                outputs = [fn.labels[label.name] for label in stmt.names]
            else:
                cur = self._stmt(stmt, fn, cur, fn.var, 1, top=True)
        if outputs is None:
            outputs = [cur] if cur is not None else []
        inputs = [fn.labels[node.label] for node in self.graph.inputs]
        model = call("keras.Model", [
            seq("inputs=", _one_or_list(inputs)),
            seq("outputs=", _one_or_list(outputs)),
            f"name={string(self.model.name)}",
        ])
        fn.out += lines(seq("return ", model), 1)
        return lines(header) + fn.out

    # -- statements
    def _emit(self, fn: _Fn, doc, depth: int) -> None:
        fn.out.extend(lines(doc, depth))

    def _body(self, body, fn: _Fn, cur: str | None, target: str, depth: int, top: bool) -> str | None:
        for stmt in body:
            cur = self._stmt(stmt, fn, cur, target, depth, top)
        return cur

    def _stmt(self, stmt: n.Stmt, fn: _Fn, cur, target: str, depth: int, top: bool):
        if isinstance(stmt, n.LayerStmt):
            return self._layer_stmt(stmt, fn, cur, target, depth, top)
        if isinstance(stmt, n.InputStmt):
            return self._input(stmt, fn, depth)
        if isinstance(stmt, n.FromStmt):
            return fn.labels[stmt.name]
        if isinstance(stmt, n.RepeatStmt):
            return self._repeat(stmt, fn, cur, target, depth, top)
        if isinstance(stmt, n.IfStmt):
            return self._if(stmt, fn, cur, target, depth, top)
        if isinstance(stmt, n.ResidualStmt):
            return self._residual(stmt, fn, cur, target, depth, top)
        if isinstance(stmt, n.BranchStmt):
            return self._branch(stmt, fn, cur, target, depth, top)
        return cur  # data_format: written into each layer that takes it

    def _input(self, stmt: n.InputStmt, fn: _Fn, depth: int) -> str:
        py = fn.labels[stmt.name]
        shape = self._expr(stmt.shape, fn)
        if not isinstance(stmt.shape, n.TupleExpr):
            try:
                value = evaluate(stmt.shape, self.graph.params)
            except EvalError:
                value = None
            if isinstance(value, int) and not isinstance(value, bool):
                shape = Bracket("(", (shape,), ")", one_tuple=True)
        self._emit(fn, seq(py, " = ", call("keras.Input", [seq("shape=", shape), f"name={string(stmt.name)}"])),
                   depth)
        return py

    def _layer_stmt(self, stmt: n.LayerStmt, fn: _Fn, cur, target: str, depth: int, top: bool) -> str:
        c = stmt.call
        dest = fn.labels[stmt.label.name] if stmt.label is not None else target
        if c.func in self.blocks:
            args = [Text(cur)] + self._call_args(c, fn, self.plans[c.func].params)
            self._emit(fn, seq(dest, " = ", call(self.function_names[c.func], args)), depth)
            return dest
        spec = LAYERS.get(c.func)
        if spec is None:
            raise EmitError(f"unknown layer '{c.func}'", c.func_span)
        if stmt.merge_inputs:
            inputs = [fn.labels[label.name] for label in stmt.merge_inputs]
        else:
            inputs = [cur, cur] if spec.inputs == "attention" else [cur]
        name = stmt.label.name if top and stmt.label is not None else None
        layer = self._layer_doc(c, fn, inputs[0], name)
        self._emit(fn, seq(dest, " = ", layer, _layer_inputs(spec.inputs, inputs)), depth)
        return dest

    def _repeat(self, stmt: n.RepeatStmt, fn: _Fn, cur, target: str, depth: int, top: bool) -> str:
        count = self._expr(stmt.count, fn)
        saved_params = dict(fn.params)
        loop_var = "_"
        if stmt.var is not None:
            loop_var = identifier(stmt.var.name, fn.taken)
            fn.params[stmt.var.name] = loop_var
            fn.taken.add(loop_var)
        body, end = self._capture(fn, lambda: self._body(stmt.body, fn, target, target, depth + 1, top))
        if end != target:
            body.append("    " * (depth + 1) + f"{target} = {end}")
        fn.params = saved_params
        if loop_var != "_":
            fn.taken.discard(loop_var)
        if body:
            if cur != target:
                self._emit(fn, Text(f"{target} = {cur}"), depth)
            self._emit(fn, seq("for ", loop_var, " in ", call("range", [count]), ":"), depth)
            fn.out.extend(body)
            cur = target
        if stmt.label is not None:
            label = fn.labels[stmt.label.name]
            self._emit(fn, Text(f"{label} = {cur}"), depth)
            cur = label
        return cur

    def _if(self, stmt: n.IfStmt, fn: _Fn, cur, target: str, depth: int, top: bool) -> str:
        chain: list[tuple[n.Expr, tuple]] = [(stmt.condition, stmt.then_body)]
        rest = stmt.else_body
        while rest is not None and len(rest) == 1 and isinstance(rest[0], n.IfStmt):
            chain.append((rest[0].condition, rest[0].then_body))
            rest = rest[0].else_body
        branches, ends = [], []
        for _, body in chain + ([(None, rest)] if rest is not None else []):
            out, end = self._capture(fn, lambda body=body: self._body(body, fn, target, target, depth + 1, top))
            branches.append(out)
            ends.append(end)
        join = ends[0] if rest is not None and len(set(ends)) == 1 else target  # e.g. the same label everywhere
        for out, end in zip(branches, ends):
            if end != join:
                out.append("    " * (depth + 1) + f"{join} = {end}")
        if not any(branches):
            return cur
        if cur != target:
            self._emit(fn, Text(f"{target} = {cur}"), depth)
        pad = "    " * depth
        if len(chain) == 1 and not branches[0]:  # only the else does something
            condition = self._expr(n.UnaryOp(stmt.condition.span, "not", stmt.condition), fn)
            self._emit(fn, seq("if ", condition, ":"), depth)
            fn.out.extend(branches[1])
            return join
        for i, (condition, _) in enumerate(chain):
            self._emit(fn, seq("if " if i == 0 else "elif ", self._expr(condition, fn), ":"), depth)
            fn.out.extend(branches[i] or [pad + "    pass"])
        if rest is not None and branches[-1]:
            fn.out.append(pad + "else:")
            fn.out.extend(branches[-1])
        return join

    def _residual(self, stmt: n.ResidualStmt, fn: _Fn, cur, target: str, depth: int, top: bool) -> str:
        shortcut = self._temporary(fn, "shortcut")
        self._emit(fn, Text(f"{shortcut} = {cur}"), depth)
        body_end = self._body(stmt.body, fn, cur, target, depth, top=False)
        shortcut_end = shortcut
        if stmt.shortcut is not None:
            shortcut_end = self._body(stmt.shortcut, fn, shortcut, shortcut, depth, top=False)
        dest = fn.labels[stmt.label.name] if stmt.label is not None else target
        name = [f"name={string(stmt.label.name)}"] if top and stmt.label is not None else []
        add = seq(call("layers.Add", name), _layer_inputs("many", [shortcut_end, body_end]))
        self._emit(fn, seq(dest, " = ", add), depth)
        fn.taken.discard(shortcut)
        return dest

    def _branch(self, stmt: n.BranchStmt, fn: _Fn, cur, target: str, depth: int, top: bool) -> str:
        spec = LAYERS.get(stmt.merge.func)
        if spec is None:
            raise EmitError(f"unknown merge layer '{stmt.merge.func}'", stmt.merge.func_span)
        temporaries, ends = [], []
        prefix = target if target.startswith("branch_") else "branch"
        for i, path in enumerate(stmt.paths, 1):
            var = self._temporary(fn, f"{prefix}_{i}")
            temporaries.append(var)
            ends.append(self._body(path, fn, cur, var, depth, top=False))
        dest = fn.labels[stmt.label.name] if stmt.label is not None else target
        name = stmt.label.name if top and stmt.label is not None else None
        merge = self._layer_doc(stmt.merge, fn, ends[0] if ends else cur, name)
        self._emit(fn, seq(dest, " = ", merge, _layer_inputs(spec.inputs, ends or [cur])), depth)
        for var in temporaries:
            fn.taken.discard(var)
        return dest

    def _temporary(self, fn: _Fn, base: str) -> str:
        name, i = base, 2
        while name in fn.taken:
            name, i = f"{base}_{i}", i + 1
        fn.taken.add(name)
        return name

    def _capture(self, fn: _Fn, emit) -> tuple[list[str], Any]:
        saved, fn.out = fn.out, []
        try:
            result = emit()
            return fn.out, result
        finally:
            fn.out = saved

    # -- layers and arguments
    def _layer_doc(self, c: n.Call, fn: _Fn, first_input: str | None, name: str | None):
        spec = LAYERS[c.func]
        items: list = []
        given: set[str] = set()
        positional = [a for a in c.args if a.name is None]
        for i, arg in enumerate(positional):
            arg_name = spec.args[i].name if i < len(spec.args) else None
            given.add(arg_name)
            items.append(self._arg(arg.value, fn, c, arg_name, first_input))
        for arg in c.args:
            if arg.name is not None and not (arg.name == "name" and name is not None):  # the label names it
                given.add(arg.name)
                items.append(seq(arg.name, "=", self._arg(arg.value, fn, c, arg.name, first_input)))
        for arg_spec in spec.all_args:
            if arg_spec.default is CHANNELS and arg_spec.name not in given:
                axis = self._axis(c, arg_spec.name, first_input, default=-1)
                if axis is not None:
                    items.append(f"{arg_spec.name}={axis}")
        if spec.takes_data_format and "data_format" not in given and self.data_format == "channels_first":
            items.append('data_format="channels_first"')
        if name is not None:
            items.append(f"name={string(name)}")
        return call(f"layers.{spec.keras_name or spec.name}", items)

    def _arg(self, expr: n.Expr, fn: _Fn, c: n.Call, arg_name: str | None, first_input: str | None):
        if isinstance(expr, n.ChannelsExpr):
            return Text(self._axis(c, arg_name, first_input))
        return self._expr(expr, fn)

    def _axis(self, c: n.Call, arg_name: str | None, first_input: str | None, default: int | None = None):
        """The axis ``channels`` means at this call: an integer when every call site agrees, else computed.

        With ``default``, None when every call site resolves to that (Keras's own default).
        """
        if self.data_format == "channels_last":
            return None if default == -1 else "-1"  # the feature axis is always the last one
        values = {node.args.get(arg_name) for node in self.nodes_at.get(c.func_span, ())}
        if len(values) == 1:
            value = next(iter(values))
            if isinstance(value, int) and not isinstance(value, bool):
                return None if value == default else str(value)
        if first_input is None:
            raise EmitError(f"cannot tell which axis 'channels' means for {c.func} here", c.func_span)
        self.needs_channels_axis = True
        return f"channels_axis({first_input})"

    def _nested_layer(self, c: n.Call, fn: _Fn):
        spec = LAYERS.get(c.func)
        if spec is None or c.receiver is not None:
            raise EmitError(f"'{c.func}(...)' is not a layer of netc's catalog", c.func_span)
        items = [self._expr(a.value, fn) for a in c.args if a.name is None]
        items += [seq(a.name, "=", self._expr(a.value, fn)) for a in c.args if a.name is not None]
        given = {a.name for a in c.args if a.name is not None}
        if spec.takes_data_format and "data_format" not in given and self.data_format == "channels_first":
            items.append('data_format="channels_first"')
        return call(f"layers.{spec.keras_name or spec.name}", items)

    def _call_args(self, c: n.Call, fn: _Fn, callee_params: dict[str, str]) -> list:
        items = [self._expr(a.value, fn) for a in c.args if a.name is None]
        for a in c.args:
            if a.name is not None:
                items.append(seq(callee_params.get(a.name, a.name), "=", self._expr(a.value, fn)))
        return items

    # -- expressions
    def expr(self, expr: n.Expr, names: dict[str, str], calls) -> Any:
        """``expr`` as a Python expression: spec names through ``names``, calls through ``calls(call)``."""
        return self._expr_prec(expr, _Fn(names, {}, "x", set(), False), calls)[0]

    def _expr(self, expr: n.Expr, fn: _Fn):
        return self._expr_prec(expr, fn)[0]

    def _expr_prec(self, expr: n.Expr, fn: _Fn, calls=None):
        if isinstance(expr, n.Literal):
            return Text(self._literal(expr)), _ATOM
        if isinstance(expr, n.NameRef):
            if expr.name not in fn.params:
                raise EmitError(f"unknown name '{expr.name}'", expr.span)
            return Text(fn.params[expr.name]), _ATOM
        if isinstance(expr, n.ChannelsExpr):
            if self.data_format == "channels_last":
                return Text("-1"), _ATOM
            raise EmitError("'channels' outside a layer argument cannot be written under channels_first",
                            expr.span)
        if isinstance(expr, n.TupleExpr):
            if not expr.items:
                return Text("()"), _ATOM
            items = tuple(self._expr_prec(i, fn, calls)[0] for i in expr.items)
            return Bracket("(", items, ")", one_tuple=len(items) == 1), _ATOM
        if isinstance(expr, n.ListExpr):
            return Bracket("[", tuple(self._expr_prec(i, fn, calls)[0] for i in expr.items), "]"), _ATOM
        if isinstance(expr, n.Call) and expr.func in FUNCTIONS and expr.receiver is None:
            function = PYTHON_FUNCTIONS[expr.func]
            self.needs_math = self.needs_math or function.startswith("math.")
            return call(function, [self._expr_prec(a.value, fn, calls)[0] for a in expr.args]), _ATOM
        if isinstance(expr, n.Call):
            return (self._nested_layer(expr, fn) if calls is None else calls(expr)), _ATOM
        if isinstance(expr, n.UnaryOp):
            operand, prec = self._expr_prec(expr.operand, fn, calls)
            text = flat(operand)
            if expr.op == "not":
                return Text("not " + (f"({text})" if prec < _NOT else text)), _NOT
            return Text(expr.op + (f"({text})" if prec < _ATOM else text)), _UNARY
        if isinstance(expr, n.BinOp):
            p = _PRECEDENCE[expr.op]
            left, lp = self._expr_prec(expr.left, fn, calls)
            right, rp = self._expr_prec(expr.right, fn, calls)
            priority = _SPLIT_PRIORITY[expr.op]

            def chain(doc, wrap: bool) -> tuple[list, list]:
                if wrap:
                    return [Bracket("(", (doc,), ")")], []
                if isinstance(doc, Ops) and _SPLIT_PRIORITY[doc.operators[0]] == priority:
                    return list(doc.operands), list(doc.operators)
                return [doc], []

            left_operands, left_operators = chain(left, lp < p or (p == 4 and lp == 4))
            right_operands, right_operators = chain(right, rp <= p)
            return Ops(tuple(left_operands + right_operands),
                       tuple(left_operators + [expr.op] + right_operators)), p
        raise EmitError(f"cannot write {type(expr).__name__}", getattr(expr, "span", None))

    def _literal(self, expr: n.Literal) -> str:
        value = expr.value
        if isinstance(value, float):
            written = self._source(expr.span)
            if written is not None and _canonical_float(written):
                return written
        return literal(value)

    def _source(self, span: Span) -> str | None:
        if span.line != span.end_line or not 1 <= span.line <= len(self.source_lines):
            return None
        return self.source_lines[span.line - 1][span.column - 1:span.end_column - 1]


def _canonical_float(text: str) -> bool:
    """A float as ruff keeps it: digits on both sides of the point, lower-case exponent."""
    return re.fullmatch(r"[0-9]+\.[0-9]+(e-?[0-9]+)?|[0-9]+e-?[0-9]+", text) is not None


def _one_or_list(names: list[str]):
    return Text(names[0]) if len(names) == 1 else Bracket("[", tuple(Text(v) for v in names), "]")


def _layer_inputs(how: str, inputs: list[str]):
    if how == "many":
        return Bracket("(", (Bracket("[", tuple(Text(v) for v in inputs), "]"),), ")")
    if how == "attention":
        keys = ("query", "value", "key")
        return Bracket("(", tuple(Text(f"{k}={v}") for k, v in zip(keys, inputs)), ")")
    return Bracket("(", (Text(inputs[0]),), ")")


def _walk(body):
    """Every statement of a body, nested bodies included (not the bodies of called blocks)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, n.RepeatStmt):
            yield from _walk(stmt.body)
        elif isinstance(stmt, n.IfStmt):
            yield from _walk(stmt.then_body)
            yield from _walk(stmt.else_body or ())
        elif isinstance(stmt, n.ResidualStmt):
            yield from _walk(stmt.body)
            yield from _walk(stmt.shortcut or ())
        elif isinstance(stmt, n.BranchStmt):
            for path in stmt.paths:
                yield from _walk(path)


def _names_in(expr: n.Expr) -> bool:
    if isinstance(expr, n.NameRef):
        return True
    if isinstance(expr, (n.TupleExpr, n.ListExpr)):
        return any(_names_in(i) for i in expr.items)
    if isinstance(expr, n.BinOp):
        return _names_in(expr.left) or _names_in(expr.right)
    if isinstance(expr, n.UnaryOp):
        return _names_in(expr.operand)
    if isinstance(expr, n.Call):
        return any(_names_in(a.value) for a in expr.args)
    return False


CHANNELS_AXIS_HELPER = '''def channels_axis(x):
    """The feature axis of ``x`` under channels_first: 1, or -1 for a rank-2 tensor."""
    return 1 if len(x.shape) >= 3 else -1'''

MAIN = '''if __name__ == "__main__":
    model = build_model()
    model.summary()'''


def emit_python(text: str, file: str, model: str | None = None, params: dict[str, Any] | None = None,
                directives: bool = False) -> tuple[str | None, list[Diagnostic]]:
    """The entry point of this stage: the Python module of one model, or None and the errors that prevent it.

    ``params`` bind model parameters (they become ``build_model``'s defaults);
    ``directives`` also writes the file's train, search and ensemble directives.
    """
    from netc.compiler.parser import parse
    from netc.compiler.pipeline import model_ir, select_model

    params = dict(params or {})
    ir, graph, diagnostics = model_ir(text, file, model, params)
    if ir is None:
        return None, diagnostics
    module, _ = parse(text, file)
    if directives:  # the directives must check clean too
        from netc.compiler.pipeline import analyze

        spans = [d.span for d in module.definitions if d.kind in ("train", "search", "ensemble")]
        found = [d for d in analyze(text, file).diagnostics if d.severity == dg.ERROR
                 and any(s.line <= d.line <= s.end_line for s in spans)]
        if found:
            return None, found
    chosen, _ = select_model(module, model)
    try:
        emitter = ModelEmitter(module, chosen, graph, text, params)
        extra = ""
        if directives:
            from netc.compiler.emit_training import emit_directives

            extra = emit_directives(module, chosen, emitter)
        return emitter.module_code(extra), diagnostics
    except EmitError as e:
        return None, diagnostics + [dg.make("NC000", f"netc cannot write this model as Python: {e.message}",
                                            e.span, file, "please report this spec to netc's issue tracker")]
