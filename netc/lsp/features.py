"""What the language server knows about a document, as plain data.

Everything here works on an ``Analysis`` (and the document's text) with
1-based lines and columns, like the rest of netc; ``server`` converts to the
protocol's 0-based positions. Nothing here imports pygls, so these functions
are tested directly as well as through the server.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from netc.catalog import LAYERS
from netc.catalog import training as cat
from netc.catalog.spec import Arg
from netc.catalog.types import REQUIRED, describe_value
from netc.compiler import nodes as n
from netc.compiler.check import format_shape
from netc.compiler.expand import PARAM_TYPES
from netc.compiler.pipeline import Analysis
from netc.diagnostics import Diagnostic, Span

# ---- the index: every name that is defined or used ----------------------------------


@dataclass
class Symbol:
    name: str
    kind: str  # model | block | param | variable | tensor | train | search | ensemble
    span: Span  # the name where it is defined
    scope: str | None  # the definition it belongs to (None for top-level definitions)
    detail: str = ""
    node: object = None
    refs: list[Span] = field(default_factory=list)


@dataclass
class Occurrence:
    span: Span
    symbol: Symbol | None
    kind: str  # layer | call | name
    name: str
    node: object = None  # the n.Call of a layer or block call; the n.Argument of an argument name
    call: object = None  # for an argument name: the call it belongs to


def _contains(span: Span, line: int, column: int) -> bool:
    """Whether the cursor at (line, column) touches the span (its end included, as editors expect)."""
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


def _name_span(span: Span, name: str) -> Span:
    return Span(span.line, span.column, span.line, span.column + len(name))


def param_text(p: n.Param, source: str | None = None) -> str:
    text = p.name + (f": {p.type}" if p.type else "")
    if p.default is not None:
        text += " = " + (_source_of(source, p.default.span) if source else "...")
    return text


def _source_of(source: str, span: Span) -> str:
    if span.line != span.end_line:
        return "..."
    lines = source.split("\n", span.line)
    return lines[span.line - 1][span.column - 1:span.end_column - 1] if span.line <= len(lines) else "..."


def signature(definition: n.Definition, source: str | None = None) -> str:
    params = getattr(definition, "params", ())
    inner = ", ".join(param_text(p, source) for p in params)
    return f"{definition.kind} {definition.name}" + (f"({inner})" if params or definition.kind == "block" else "")


class Index:
    """Definitions and uses of models, blocks, parameters and tensors in one module."""

    def __init__(self, module: n.Module, source: str = ""):
        self.module = module
        self.source = source
        self.symbols: list[Symbol] = []
        self.occurrences: list[Occurrence] = []
        self.top: dict[str, Symbol] = {}  # models and blocks by name
        self.models = {d.name: d for d in module.of_kind("model")}
        self.blocks = {d.name: d for d in module.of_kind("block")}
        for definition in module.definitions:
            if definition.kind in ("model", "block"):
                symbol = self._define(definition.name, definition.kind, definition.name_span, None,
                                      signature(definition, source), definition)
                self.top.setdefault(definition.name, symbol)
        for definition in module.definitions:
            self._definition(definition)

    # -- building
    def _define(self, name, kind, span, scope, detail="", node=None) -> Symbol:
        symbol = Symbol(name, kind, span, scope, detail, node)
        self.symbols.append(symbol)
        return symbol

    def _use(self, span: Span, symbol: Symbol | None, kind: str, name: str, node=None, call=None) -> None:
        self.occurrences.append(Occurrence(span, symbol, kind, name, node, call))
        if symbol is not None:
            symbol.refs.append(span)

    def _definition(self, d: n.Definition) -> None:
        scope = d.name
        params: dict[str, Symbol] = {}
        for p in getattr(d, "params", ()):
            symbol = self._define(p.name, "param", _name_span(p.span, p.name), scope,
                                  f"(parameter of {d.kind} {d.name}) " + param_text(p, self.source), p)
            if p.default is not None:
                self._expr(p.default, params, scope)
            params.setdefault(p.name, symbol)
        if isinstance(d, (n.ModelDef, n.BlockDef)):
            tensors: dict[str, Symbol] = {}
            self._collect_tensors(d.body, tensors, scope)
            self._body(d.body, params, tensors, scope)
            return
        if isinstance(d, n.DirectiveDef):
            model = self.top.get(d.name) if d.name in self.models else None
            self._use(d.name_span, model, "name", d.name)
            model_params = self._params_of(self.models.get(d.name))
            train = next((t for t in self.module.of_kind("train") if t.name == d.name), None)
            train_params = self._params_of(train)
            for setting in d.settings:
                if setting.is_binding:  # a search binds a model or train parameter by name
                    target = model_params.get(setting.key) or train_params.get(setting.key)
                    self._use(setting.key_span, target, "name", setting.key)
                for value in setting.values:
                    self._expr(value, params, scope)

    def _params_of(self, definition) -> dict[str, Symbol]:
        if definition is None:
            return {}
        found = {}
        for s in self.symbols:
            if s.kind == "param" and s.scope == definition.name and s.node in definition.params:
                found.setdefault(s.name, s)
        return found

    def _collect_tensors(self, body, tensors: dict, scope: str) -> None:
        for stmt in _walk(body):
            label = None
            if isinstance(stmt, n.InputStmt):
                label = (stmt.name, stmt.name_span, f"input {stmt.name}")
            elif getattr(stmt, "label", None) is not None:
                label = (stmt.label.name, stmt.label.span, f"tensor {stmt.label.name}")
            if label is not None and label[0] not in tensors:
                tensors[label[0]] = self._define(label[0], "tensor", label[1], scope, label[2], stmt)

    def _body(self, body, params: dict, tensors: dict, scope: str) -> None:
        for stmt in body:
            self._stmt(stmt, params, tensors, scope)

    def _stmt(self, stmt, params, tensors, scope) -> None:
        if isinstance(stmt, n.LayerStmt):
            self._call(stmt.call, params, scope, statement=True)
            for label in stmt.merge_inputs or ():
                self._use(label.span, tensors.get(label.name), "name", label.name)
        elif isinstance(stmt, n.InputStmt):
            self._expr(stmt.shape, params, scope)
        elif isinstance(stmt, n.FromStmt):
            self._use(stmt.name_span, tensors.get(stmt.name), "name", stmt.name)
        elif isinstance(stmt, n.OutputStmt):
            for label in stmt.names:
                self._use(label.span, tensors.get(label.name), "name", label.name)
        elif isinstance(stmt, n.RepeatStmt):
            self._expr(stmt.count, params, scope)
            inner = params
            if stmt.var is not None:
                var = self._define(stmt.var.name, "variable", stmt.var.span, scope,
                                   f"(repeat variable) {stmt.var.name}: int", stmt)
                inner = {**params, stmt.var.name: var}
            self._body(stmt.body, inner, tensors, scope)
        elif isinstance(stmt, n.IfStmt):
            self._expr(stmt.condition, params, scope)
            self._body(stmt.then_body, params, tensors, scope)
            self._body(stmt.else_body or (), params, tensors, scope)
        elif isinstance(stmt, n.ResidualStmt):
            self._body(stmt.body, params, tensors, scope)
            self._body(stmt.shortcut or (), params, tensors, scope)
        elif isinstance(stmt, n.BranchStmt):
            self._call(stmt.merge, params, scope, statement=True)
            for path in stmt.paths:
                self._body(path, params, tensors, scope)

    def _call(self, call: n.Call, params, scope, statement: bool = False) -> None:
        if call.receiver is not None:  # Model.top(5) in an ensemble
            self._use(call.receiver_span, self.top.get(call.receiver) if call.receiver in self.models else None,
                      "name", call.receiver)
        elif call.func in self.blocks or call.func in self.models:
            self._use(call.func_span, self.top.get(call.func), "call", call.func, call)
        else:
            self._use(call.func_span, None, "layer", call.func, call)
        target = self.blocks.get(call.func) or (self.models.get(call.func) if call.receiver is None else None)
        target_params = self._params_of(target) if target is not None else {}
        for arg in call.args:
            if arg.name is not None and arg.name_span is not None:
                self._use(arg.name_span, target_params.get(arg.name), "argument", arg.name, arg, call)
            self._expr(arg.value, params, scope)

    def _expr(self, expr, params, scope) -> None:
        stack = [expr]
        while stack:
            e = stack.pop()
            if isinstance(e, n.NameRef):
                self._use(e.span, params.get(e.name), "name", e.name)
            elif isinstance(e, n.Call):
                self._call(e, params, scope)
            elif isinstance(e, (n.TupleExpr, n.ListExpr)):
                stack.extend(e.items)
            elif isinstance(e, n.BinOp):
                stack.extend((e.left, e.right))
            elif isinstance(e, n.UnaryOp):
                stack.append(e.operand)

    # -- queries
    def at(self, line: int, column: int) -> Symbol | Occurrence | None:
        """The occurrence or definition under the cursor (the narrowest)."""
        best = None
        for item in self.occurrences:
            if _contains(item.span, line, column):
                best = item if best is None or _narrower(item.span, best.span) else best
        for symbol in self.symbols:
            if _contains(symbol.span, line, column):
                if best is None or _narrower(symbol.span, best.span):
                    best = symbol
        return best

    def symbol_at(self, line: int, column: int) -> Symbol | None:
        found = self.at(line, column)
        return found.symbol if isinstance(found, Occurrence) else found

    def scope_at(self, line: int) -> n.Definition | None:
        for d in self.module.definitions:
            if d.span.line <= line <= d.span.end_line:
                return d
        return None


def _narrower(a: Span, b: Span) -> bool:
    return (a.end_line - a.line, a.end_column - a.column) < (b.end_line - b.line, b.end_column - b.column)


def _walk(body):
    """Every statement in a body, nested ones included, in source order."""
    stack = list(reversed(body))
    while stack:
        stmt = stack.pop()
        yield stmt
        inner: list = []
        if isinstance(stmt, n.RepeatStmt):
            inner = list(stmt.body)
        elif isinstance(stmt, n.IfStmt):
            inner = list(stmt.then_body) + list(stmt.else_body or ())
        elif isinstance(stmt, n.ResidualStmt):
            inner = list(stmt.body) + list(stmt.shortcut or ())
        elif isinstance(stmt, n.BranchStmt):
            inner = [s for path in stmt.paths for s in path]
        stack.extend(reversed(inner))


# ---- hover -----------------------------------------------------------------------------

def _arg_line(arg: Arg) -> str:
    text = f"`{arg.name}`: {arg.type.describe()}"
    if arg.default is not REQUIRED:
        text += f" = `{describe_value(arg.default)}`"
    else:
        text += " (required)"
    return text


def _first_sentence(doc: str) -> str:
    doc = doc.strip()
    return doc.split("\n\n", 1)[0]


def _call_spec(name: str):
    return LAYERS.get(name) or cat.LOADERS.get(name) or cat.OPTIMIZERS.get(name) or cat.CALLBACKS.get(name) \
        or cat.DISTRIBUTIONS.get(name) or cat.TREES.get(name)


def _graph_nodes(analysis: Analysis, span: Span) -> list[tuple[str, object]]:
    """Every expanded layer made by the call whose name is at ``span`` (a block's layers: one per call)."""
    found = []
    for model, graph in analysis.graphs.items():
        for node in graph.nodes:
            if node.span == span and node.layer not in (None, "Input"):
                found.append((model, node))
    return found


def _shape_lines(found: list[tuple[str, object]]) -> list[str]:
    lines, seen = [], set()
    for model, node in found:
        if node.shape is None:
            continue
        key = (model, node.shape, node.params)
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"- model `{model}`: output `{format_shape(node.shape)}`, {node.params:,} parameters"
                     + (f" ({node.non_trainable_params:,} non-trainable)" if node.non_trainable_params else ""))
        if len(lines) >= 8:
            more = len({(m, nd.shape, nd.params) for m, nd in found}) - len(lines)
            if more > 0:
                lines.append(f"- ... and {more} more instances")
            break
    return lines


def hover(analysis: Analysis, index: Index, line: int, column: int) -> tuple[str, Span] | None:
    """Markdown for the thing under the cursor, with the span it describes."""
    found = index.at(line, column)
    if found is None:
        return None
    if isinstance(found, Occurrence):
        if found.kind == "layer":
            spec = _call_spec(found.name)
            if spec is None:
                return None
            parts = [f"```netc\n{_spec_signature(spec)}\n```", _first_sentence(spec.doc)]
            if spec.name in LAYERS:
                parts[0] = f"```netc\n{_spec_signature(spec)}\n```\n`keras.layers.{getattr(spec, 'keras_name', None) or spec.name}`"
                shapes = _shape_lines(_graph_nodes(analysis, found.span))
                if shapes:
                    parts.append("\n".join(shapes))
            return "\n\n".join(p for p in parts if p), found.span
        if found.kind == "argument":
            call: n.Call = found.call
            if found.symbol is not None:
                return _symbol_hover(found.symbol), found.span
            spec = _call_spec(call.func)
            arg = spec.arg_index.get(found.name) if spec is not None else None
            if arg is None:
                return None
            text = f"```netc\n{arg.name}: {arg.type.describe()}" + (
                f" = {describe_value(arg.default)}" if arg.default is not REQUIRED else "") + "\n```"
            text += f"\n\nargument of `{spec.name}`" + (" (required)" if arg.default is REQUIRED else "")
            if arg.doc:
                text += f"\n\n{arg.doc}"
            return text, found.span
        if found.symbol is None:
            return None
        text = _symbol_hover(found.symbol)
        if found.symbol.kind == "tensor":
            text += "".join("\n\n" + line for line in _tensor_shapes(analysis, found.symbol))
        if found.kind == "call" and found.symbol.kind == "block":
            shapes = _shape_lines(_graph_nodes_of_block_call(analysis, found.node))
            if shapes:
                text += "\n\nits last layer:\n" + "\n".join(shapes)
        return text, found.span
    text = _symbol_hover(found)
    if found.kind == "tensor":
        shapes = _tensor_shapes(analysis, found)
        if shapes:
            text += "\n\n" + "\n".join(shapes)
    if found.kind == "model":
        graph = analysis.graphs.get(found.name)
        if graph is not None and graph.nodes:
            total = sum(nd.params for nd in graph.nodes)
            text += f"\n\n{len(graph.nodes):,} layers, {total:,} parameters (default arguments)"
    return text, found.span


def _graph_nodes_of_block_call(analysis: Analysis, call) -> list:
    """The output of each expansion of a block call: the last node made under its scope."""
    found = []
    for model, graph in analysis.graphs.items():
        last = None
        for node in graph.nodes:
            if node.line >= call.span.line and node.scope and node.scope[-1] == f"block {call.func}":
                last = node
        if last is not None:
            found.append((model, last))
    return found


def _tensor_shapes(analysis: Analysis, symbol: Symbol) -> list[str]:
    graph = analysis.graphs.get(symbol.scope)
    if graph is None:
        return []
    for node in graph.nodes:
        if node.label == symbol.name and node.shape is not None:
            return [f"shape `{format_shape(node.shape)}`"]
    return []


def _symbol_hover(symbol: Symbol) -> str:
    return f"```netc\n{symbol.detail or symbol.name}\n```"


def _spec_signature(spec) -> str:
    parts = []
    for a in spec.args[:8]:
        parts.append(a.name if a.default is REQUIRED else f"{a.name}={describe_value(a.default)}")
    more = ", ..." if len(spec.args) > 8 else ""
    return f"{spec.name}({', '.join(parts)}{more})"


# ---- completion -------------------------------------------------------------------------

@dataclass
class Completion:
    label: str
    kind: str  # layer | block | model | keyword | argument | param | tensor | setting | value | type
    detail: str = ""
    doc: str = ""
    insert: str | None = None
    sort: str = ""


STATEMENT_KEYWORDS = ("input", "from", "output", "data_format", "repeat", "if", "else", "residual", "shortcut",
                      "branch", "path")
TOP_KEYWORDS = ("model", "block", "train", "search", "ensemble")
_CALL_OPEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\($")


def _open_call(prefix: str) -> tuple[str | None, list[str]]:
    """The innermost call whose '(' is still open at the end of ``prefix``, and the argument names given."""
    prefix = re.sub(r"#[^\n]*", "", _strip_strings(prefix))
    depth = 0
    for i in range(len(prefix) - 1, -1, -1):
        ch = prefix[i]
        if ch in ")]":
            depth += 1
        elif ch in "([":
            if depth == 0:
                m = _CALL_OPEN.search(prefix[:i + 1]) if ch == "(" else None
                if m is None:
                    return None, []
                given = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)", prefix[i + 1:])
                return m.group(1), given
            depth -= 1
        elif ch in "{}" and depth == 0:
            return None, []
    return None, []


def completions(analysis: Analysis, index: Index, text: str, line: int, column: int) -> list[Completion]:
    lines = text.split("\n")
    current = lines[line - 1] if 0 < line <= len(lines) else ""
    before = current[:column - 1]
    word = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", before)
    head = before[:word.start()] if word else before
    scope = index.scope_at(line)
    if "#" in _strip_strings(before):
        return []
    # statement-level text before the cursor, across lines for an open call
    start = sum(len(x) + 1 for x in lines[:line - 1])
    window = text[max(0, start - 2000):start + len(head)]
    callee, given = _open_call(window)
    stripped = head.strip()
    out: list[Completion] = []
    if re.search(r"\b(from|output)\s+$|<-\s*$|<-.*,\s*$|\boutput\b.*,\s*$", head):
        return _tensors(index, scope)
    if scope is None or (scope is not None and line == scope.span.line and not stripped.endswith("(")
                         and callee is None and re.match(r"^\s*$", head)):
        out += [Completion(k, "keyword", sort="0") for k in TOP_KEYWORDS]
        out += [Completion(m, "model", "model", sort="1") for m in index.models]
        return out
    if re.search(r":\s*$", head) and callee is not None and scope is not None and line == scope.span.line:
        return [Completion(t, "type", sort="0") for t in PARAM_TYPES]
    if callee is not None:
        out += _arguments(index, callee, given)
        out += _names_in_scope(index, scope, line)
        if isinstance(scope, n.DirectiveDef) or callee in LAYERS:
            out += [Completion(name, "layer", "layer", _first_sentence(spec.doc), sort="3")
                    for name, spec in LAYERS.items()] if _takes_layer(callee) else []
        return out
    if isinstance(scope, n.DirectiveDef):
        return _directive(index, scope, head)
    if stripped in ("", "}") or stripped.endswith("{") or stripped.endswith(")") or stripped.endswith("}"):
        out += [Completion(name, "layer", "keras.layers." + (spec.keras_name or name), _first_sentence(spec.doc),
                           sort="2") for name, spec in LAYERS.items()]
        out += [Completion(b, "block", signature(d, text), sort="1") for b, d in index.blocks.items()]
        out += [Completion(k, "keyword", sort="3") for k in STATEMENT_KEYWORDS]
        return out
    out += _names_in_scope(index, scope, line)
    return out


def _strip_strings(text: str) -> str:
    return re.sub(r'"([^"\\]|\\.)*"|\'([^\'\\]|\\.)*\'', '""', text)


def _takes_layer(callee: str) -> bool:
    spec = LAYERS.get(callee)
    return spec is not None and spec.category in ("recurrent", "wrappers") or callee in ("Bidirectional",
                                                                                          "TimeDistributed")


def _arguments(index: Index, callee: str, given: list[str]) -> list[Completion]:
    out = []
    target = index.blocks.get(callee) or index.models.get(callee)
    if target is not None:
        for p in target.params:
            if p.name not in given:
                out.append(Completion(p.name, "argument", param_text(p, index.source), insert=f"{p.name}=",
                                      sort="0"))
        return out
    spec = _call_spec(callee)
    if spec is None:
        return out
    for i, arg in enumerate(spec.all_args):
        if arg.name in given:
            continue
        detail = f"{arg.type.describe()}" + (f" = {describe_value(arg.default)}" if arg.default is not REQUIRED
                                             else " (required)")
        out.append(Completion(arg.name, "argument", detail, arg.doc, insert=f"{arg.name}=", sort=f"0{i:03d}"))
    return out


def _names_in_scope(index: Index, scope, line: int) -> list[Completion]:
    if scope is None:
        return []
    out, seen = [], set()
    for s in index.symbols:
        if s.scope != scope.name or s.kind not in ("param", "variable") or s.name in seen:
            continue
        if s.kind == "variable" and not (s.node.span.line <= line <= s.node.span.end_line):
            continue
        seen.add(s.name)
        out.append(Completion(s.name, "param", s.detail, sort="1"))
    if isinstance(scope, n.DirectiveDef) and scope.name in index.models:
        for p in index.models[scope.name].params:
            if p.name not in seen:
                seen.add(p.name)
                out.append(Completion(p.name, "param", param_text(p, index.source), sort="1"))
    return out


def _tensors(index: Index, scope) -> list[Completion]:
    if scope is None:
        return []
    return [Completion(s.name, "tensor", s.detail, sort="0") for s in index.symbols
            if s.kind == "tensor" and s.scope == scope.name]


_SETTING_VALUES = {
    "data": cat.LOADERS, "test_data": cat.LOADERS, "validation_data": cat.LOADERS, "optimizer": cat.OPTIMIZERS,
    "strategy": cat.SEARCH_STRATEGIES, "prune": cat.PRUNERS, "weights": cat.ENSEMBLE_WEIGHTS,
}


def _directive(index: Index, scope: n.DirectiveDef, head: str) -> list[Completion]:
    settings = {"train": cat.TRAIN_SETTINGS, "search": cat.SEARCH_SETTINGS, "ensemble": cat.ENSEMBLE_SETTINGS}
    m = re.match(r"^\s*([a-z_]+)\s+$", head)
    if m and m.group(1) in _SETTING_VALUES:
        values = _SETTING_VALUES[m.group(1)]
        if isinstance(values, dict):
            return [Completion(k, "value", v.category, v.doc, insert=f"{k}()") for k, v in values.items()]
        return [Completion(v, "value") for v in values]
    if m and m.group(1) == "loss":
        return [Completion(f'"{v}"', "value") for v in cat.LOSSES]
    if m and m.group(1) == "members":
        return [Completion(name, "model", "model") for name in index.models] + [
            Completion(name, "value", "tree model", spec.doc) for name, spec in cat.TREES.items()]
    if head.strip() == "":
        out = [Completion(k, "setting", f"{scope.kind} setting", sort="0") for k in settings.get(scope.kind, ())]
        if scope.kind == "search":
            out += _names_in_scope(index, scope, scope.span.line)
        return out
    if scope.kind == "search" and re.search(r"=\s*$", head):
        return [Completion(k, "value", "distribution", v.doc, insert=f"{k}()") for k, v in cat.DISTRIBUTIONS.items()]
    return _names_in_scope(index, scope, scope.span.line)


# ---- document symbols -------------------------------------------------------------------

@dataclass
class DocSymbol:
    name: str
    kind: str  # model | block | train | search | ensemble | tensor
    detail: str
    span: Span
    name_span: Span
    children: list[DocSymbol] = field(default_factory=list)


def document_symbols(module: n.Module, source: str = "") -> list[DocSymbol]:
    out = []
    for d in module.definitions:
        symbol = DocSymbol(d.name, d.kind, signature(d, source), d.span, d.name_span)
        if isinstance(d, (n.ModelDef, n.BlockDef)):
            for stmt in _walk(d.body):
                if isinstance(stmt, n.InputStmt):
                    symbol.children.append(DocSymbol(stmt.name, "tensor", "input", stmt.span, stmt.name_span))
                elif getattr(stmt, "label", None) is not None:
                    symbol.children.append(DocSymbol(stmt.label.name, "tensor", "tensor", stmt.span,
                                                     stmt.label.span))
        out.append(symbol)
    return out


# ---- code actions ------------------------------------------------------------------------

_DID_YOU_MEAN = re.compile(r"""did you mean (?:'([^']+)'|"([^"]*)"|axis=(-?\d+))\?""")
_TOKEN = re.compile(r"""^([A-Za-z_][A-Za-z0-9_]*|"([^"\\]|\\.)*"|'([^'\\]|\\.)*'|-?\d+)$""")


def fix_of(d: Diagnostic) -> str | None:
    """The replacement for a diagnostic's range that its "did you mean" proposes, if any."""
    for text in (d.message, d.hint or ""):
        m = _DID_YOU_MEAN.search(text)
        if m:
            if m.group(1) is not None:
                return m.group(1)
            if m.group(2) is not None:
                return f'"{m.group(2)}"'
            return m.group(3)
    return None


def replacement(d: Diagnostic, lines: list[str]) -> str | None:
    """The fix, when the diagnostic's range (in ``lines``, the source) is one token the fix can replace."""
    fix = fix_of(d)
    if fix is None or d.line != d.end_line:
        return None
    if not 0 < d.line <= len(lines):
        return None
    current = lines[d.line - 1][d.column - 1:d.end_column - 1]
    if current == fix or not _TOKEN.match(current):
        return None
    if current[:1] in "\"'" and fix[:1] != '"':
        return None  # a string is replaced by a string only
    if current[:1] not in "\"'" and fix[:1] == '"':
        return None
    return fix
