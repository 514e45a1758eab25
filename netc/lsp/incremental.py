"""Incremental analysis for the language server.

``netc check`` analyzes a file from scratch; an editor sends a new version of
the same file on every keystroke. ``DocumentAnalyzer`` gives exactly what
``pipeline.safe_analyze`` gives (the tests compare them on random edits) but
reuses the previous version's work:

- parsing: the edit is located by comparing the old and the new text; only
  the run of statements (or of top-level definitions) around it is parsed
  again, and the nodes after it are shifted to their new lines. The splice is
  used only when the old file and the re-parsed region both parse cleanly;
  anything else is parsed in full, with the parser's error recovery;
- expansion and checking: a model whose definition and blocks are the very
  same node objects as last time keeps its graph; in a model that changed,
  calls evaluated in the same environment reuse their values, and layers with
  the same arguments and input shapes reuse their clean checks (``check``'s
  own table, which ``netc check`` uses too).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import replace
from typing import Any

from netc.compiler import nodes as n
from netc.compiler.check import Checker
from netc.compiler.evaluate import Unhashable, freeze
from netc.compiler.expand import Expander
from netc.compiler.parser import MAX_SOURCE_CHARS, MAX_TREE_DEPTH, parse
from netc.compiler.pipeline import Analysis, safe_analyze
from netc.diagnostics import Span, line_starts

_BODY_HEAD = "model _ {"
# words that continue a statement (a region starting with one could attach to the statement before it)
_CONTINUATION = re.compile(r"\s*(as|else|shortcut|path|in|and|or|not)\b|\s*<-")
_COMMENTS = re.compile(r"#[^\n]*")


def _common_prefix(a: str, b: str) -> int:
    lo, hi = 0, min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    while lo < hi:  # invariant: a[:lo] == b[:lo], a[:hi+1] != b[:hi+1] for the final hi
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, min(len(a), len(b), limit)
    if hi and a[len(a) - hi:] == b[len(b) - hi:]:
        return hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid:] == b[len(b) - mid:]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class _Text:
    """A text with its line table, to convert between offsets and 1-based (line, column)."""

    def __init__(self, text: str):
        self.text = text
        self.starts = line_starts(text)

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column - 1

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


# ---- shifting spans --------------------------------------------------------

class _Shift:
    """Moves every position at or after ``(line, column)`` (old text) by the edit's line and column delta."""

    def __init__(self, line: int, column: int, new_line: int, new_column: int):
        self.line, self.column = line, column
        self.dl = new_line - line
        self.dc = new_column - column

    @property
    def identity(self) -> bool:
        return self.dl == 0 and self.dc == 0

    def point(self, line: int, column: int) -> tuple[int, int]:
        if line < self.line or (line == self.line and column < self.column):
            return line, column
        if line == self.line:
            return line + self.dl, column + self.dc
        return line + self.dl, column

    def span(self, span: Span) -> Span:
        at_line, at_column = self.line, self.column
        end_line = span.end_line
        if end_line < at_line or (end_line == at_line and span.end_column < at_column):
            return span
        line, column = span.line, span.column
        if line > at_line:  # the common case: the whole span is on a later line
            return Span(line + self.dl, column, end_line + self.dl, span.end_column)
        line, column = self.point(line, column)
        end_line, end_column = self.point(end_line, span.end_column)
        return Span(line, column, end_line, end_column)

    def untouched(self, span: Span) -> bool:
        """Whether nothing in a node with this span moves."""
        if (span.end_line, span.end_column) < (self.line, self.column):
            return True
        return self.dl == 0 and span.line > self.line

    def node(self, value: Any) -> Any:
        """``value`` (a node, a tuple of them, a span) with its positions moved; unchanged parts are kept."""
        cls = value.__class__
        if cls is tuple:
            return tuple([self.node(v) for v in value])
        if cls is Span:
            return self.span(value)
        fields_ = getattr(value, "__dict__", None)
        if fields_ is None or isinstance(value, type):
            return value  # str, int, float, bool, None
        span = fields_.get("span")
        if span is not None and span.__class__ is Span:
            if self.untouched(span):
                return value
            if span.line > self.line:  # all of it is on later lines (a node's parts lie within its span)
                return self._down(value)
        changes = None
        for name, old in fields_.items():
            if old is None or old.__class__ in _ATOMS:
                continue
            new = self.node(old)
            if new is not old:
                if changes is None:
                    changes = {}
                changes[name] = new
        if changes is None:
            return value
        copy = object.__new__(cls)
        copy.__dict__.update(fields_)
        copy.__dict__.update(changes)
        return copy


    def _down(self, value: Any) -> Any:
        """``node`` for a value wholly below the edit: every line moves by ``dl``, no column changes.

        Lines inserted or removed move everything after them, often thousands of nodes: this is
        the same walk without the checks that only positions on the edit's own line need.
        """
        cls = value.__class__
        if cls is tuple:
            return tuple([self._down(v) for v in value])
        if cls is Span:
            moved = _new(Span)
            fields_ = value.__dict__
            moved.__dict__.update(line=fields_["line"] + self.dl, column=fields_["column"],
                                  end_line=fields_["end_line"] + self.dl, end_column=fields_["end_column"])
            return moved
        fields_ = getattr(value, "__dict__", None)
        if fields_ is None or isinstance(value, type):
            return value
        copy = _new(cls)
        moved_fields = copy.__dict__
        for name, old in fields_.items():
            moved_fields[name] = old if old is None or old.__class__ in _ATOMS else self._down(old)
        return copy


_ATOMS = (str, int, float, bool)
_new = object.__new__


# ---- the incremental parser ---------------------------------------------------

def _end(span: Span) -> tuple[int, int]:
    return span.end_line, span.end_column


def _start(span: Span) -> tuple[int, int]:
    return span.line, span.column


def _bodies(stmt: n.Stmt) -> list[tuple[str, tuple]]:
    """The statement bodies directly inside a statement, as (field path, body)."""
    if isinstance(stmt, n.RepeatStmt):
        return [("body", stmt.body)]
    if isinstance(stmt, n.IfStmt):
        out = [("then_body", stmt.then_body)]
        if stmt.else_body is not None:
            out.append(("else_body", stmt.else_body))
        return out
    if isinstance(stmt, n.ResidualStmt):
        out = [("body", stmt.body)]
        if stmt.shortcut is not None:
            out.append(("shortcut", stmt.shortcut))
        return out
    if isinstance(stmt, n.BranchStmt):
        return [(f"paths.{i}", path) for i, path in enumerate(stmt.paths)]
    return []


def _with_body(stmt: n.Stmt, path: str, body: tuple) -> n.Stmt:
    copy = object.__new__(type(stmt))
    copy.__dict__.update(stmt.__dict__)
    if path.startswith("paths."):
        index = int(path[6:])
        paths = list(stmt.paths)
        paths[index] = body
        copy.__dict__["paths"] = tuple(paths)
    else:
        copy.__dict__[path] = body
    return copy


class IncrementalParser:
    """``parse`` with memory: the same result as ``parser.parse``, computed from the last clean version.

    The base is the last version that parsed without a syntax error: while a
    statement is being typed (and does not parse yet), every new version is
    compared with that base, so the re-parsed region is the statement being
    typed. A region with syntax errors is spliced only at the level of
    top-level definitions, and only when the parser's error recovery did not
    reach the region's end (then the rest of the file parses as before).
    """

    def __init__(self, file: str):
        self.file = file
        self.base_text: str | None = None
        self.base_module: n.Module | None = None
        self.full_parses = 0
        self.partial_parses = 0
        # after a splice: the definitions that are only moved copies of the base's (id(new) -> old), and the move
        self.origin: dict[int, n.Definition] = {}
        self.shift: _Shift | None = None

    def _moved(self, old: tuple, new: tuple, shift: _Shift) -> tuple:
        for before, after in zip(old, new):
            if after is not before:
                self.origin[id(after)] = before
        self.shift = shift
        return new

    def parse(self, text: str, file: str | None = None) -> tuple[n.Module, list]:
        if file is not None and file != self.file:
            self.file, self.base_text, self.base_module = file, None, None
        result = None
        self.origin, self.shift = {}, None
        if self.base_text is not None and len(text) <= MAX_SOURCE_CHARS:
            if text == self.base_text:
                result = self.base_module, []
            else:
                try:
                    result = self._splice(text)
                except RecursionError:
                    result = None
        if result is None:
            self.origin, self.shift = {}, None
            module, diagnostics = parse(text, self.file)
            self.full_parses += 1
        else:
            module, diagnostics = result
            self.partial_parses += 1
        if not diagnostics:
            self.base_text, self.base_module = text, module
        return module, list(diagnostics)

    # -- splicing
    def _splice(self, text: str) -> tuple[n.Module, list] | None:
        old, new = _Text(self.base_text), _Text(text)
        prefix = _common_prefix(old.text, new.text)
        limit = min(len(old.text), len(new.text)) - prefix
        suffix = _common_suffix(old.text, new.text, limit)
        a, b = prefix, len(old.text) - suffix  # the changed range of the old text
        delta = len(new.text) - len(old.text)
        module = self.base_module
        a_pos, b_pos = old.position(a), old.position(b)
        for index, definition in enumerate(module.definitions):
            if isinstance(definition, (n.ModelDef, n.BlockDef)) and _start(definition.span) < a_pos \
                    and b_pos < _end(definition.span):
                spliced = self._in_body(old, new, definition, a_pos, b_pos, delta)
                if spliced is not None:
                    new_def, shift, diagnostics = spliced
                    rest = module.definitions[index + 1:]
                    if not shift.identity:
                        rest = self._moved(rest, shift.node(rest), shift)
                    return n.Module(module.file, module.definitions[:index] + (new_def,) + rest), diagnostics
                break
        return self._definitions(old, new, a_pos, b_pos, delta)

    def _in_body(self, old: _Text, new: _Text, definition, a_pos, b_pos, delta):
        """Re-parse the run of statements around the edit, in the innermost body that can take it."""
        levels = [(definition, "body", definition.body)]  # outermost first
        body = definition.body
        while True:
            inner = None
            for stmt in body:
                if _start(stmt.span) < a_pos and b_pos < _end(stmt.span):
                    for sub_path, sub_body in _bodies(stmt):
                        if sub_body and _start(sub_body[0].span) <= a_pos and b_pos <= _end(sub_body[-1].span):
                            inner = (stmt, sub_path, sub_body)
                            break
                    break
            if inner is None:
                break
            levels.append(inner)
            body = inner[2]
        for depth in range(len(levels) - 1, -1, -1):
            container, path, body = levels[depth]
            i = next((k for k, s in enumerate(body) if _end(s.span) >= a_pos), len(body))
            j = next((k for k in range(len(body) - 1, -1, -1) if _start(body[k].span) <= b_pos), -1)
            if i > 0:
                start_pos = _end(body[i - 1].span)
            elif body and a_pos >= _start(body[0].span):
                start_pos = _start(body[0].span)
            else:
                continue
            if j + 1 < len(body):
                end_pos = _start(body[j + 1].span)
            elif depth == 0:
                end_pos = (definition.span.end_line, definition.span.end_column - 1)  # its closing '}'
            elif body and b_pos <= _end(body[-1].span):
                end_pos = _end(body[-1].span)
            else:
                continue
            if not (start_pos <= a_pos and b_pos <= end_pos):
                continue
            parsed = self._parse_statements(old, new, start_pos, end_pos, delta, depth)
            if parsed is None:
                return None
            statements, diagnostics = parsed
            end = old.offset(*end_pos)
            end_new = new.position(end + delta)
            shift = _Shift(end_pos[0], end_pos[1], end_new[0], end_new[1])
            after = body[j + 1:] if shift.identity else shift.node(body[j + 1:])
            node = self._replace(container, path, body[:i] + statements + after, shift)
            for outer in range(depth - 1, -1, -1):  # rebuild the containers outwards, shifting their ends
                parent, parent_path, parent_body = levels[outer]
                index = next(k for k, s in enumerate(parent_body) if s is container)
                rest = parent_body[index + 1:] if shift.identity else shift.node(parent_body[index + 1:])
                node = self._replace(parent, parent_path, parent_body[:index] + (node,) + rest, shift)
                container = parent
            return node, shift, diagnostics
        return None

    def _parse_statements(self, old: _Text, new: _Text, start_pos, end_pos, delta, depth):
        """The statements of the region (parsed without a syntax error), and no diagnostics."""
        start, end = old.offset(*start_pos), old.offset(*end_pos)
        region = new.text[start:end + delta]
        pad = _pad(start_pos, _BODY_HEAD)
        if _CONTINUATION.match(_COMMENTS.sub("", region)) or _open_comment(region):
            return None  # it would continue the statement before it, or a comment would run past its end
        if pad is None or _nesting(region) + depth + 8 > MAX_TREE_DEPTH // 2:
            return None
        parsed, diagnostics = parse(pad + region + "\n}", self.file)
        # only a clean region: the parser's error recovery depends on the state the statement before the
        # region leaves it in, which the stand-in '{' does not reproduce (its expected tokens differ)
        if diagnostics or len(parsed.definitions) != 1 or not isinstance(parsed.definitions[0], n.ModelDef):
            return None
        return parsed.definitions[0].body, diagnostics

    def _replace(self, container, path: str, body: tuple, shift: _Shift):
        if isinstance(container, (n.ModelDef, n.BlockDef)):
            copy = object.__new__(type(container))
            copy.__dict__.update(container.__dict__)
            copy.__dict__["body"] = body
            copy.__dict__["span"] = shift.span(container.span)
            return copy
        updated = _with_body(container, path, body)
        updated.__dict__["span"] = shift.span(container.span)
        if not shift.identity:  # what follows the body in the statement moves too
            if getattr(updated, "label", None) is not None:
                updated.__dict__["label"] = shift.node(updated.label)
            if isinstance(updated, n.IfStmt) and path == "then_body" and updated.else_body is not None:
                updated.__dict__["else_body"] = shift.node(updated.else_body)
            if isinstance(updated, n.ResidualStmt) and path == "body" and updated.shortcut is not None:
                updated.__dict__["shortcut"] = shift.node(updated.shortcut)
            if isinstance(updated, n.BranchStmt):
                index = int(path[6:])
                paths = list(updated.paths)
                paths[index + 1:] = [shift.node(p) for p in paths[index + 1:]]
                updated.__dict__["paths"] = tuple(paths)
        return updated

    def _definitions(self, old: _Text, new: _Text, a_pos, b_pos, delta):
        """Re-parse the run of top-level definitions around the edit (with error recovery)."""
        defs = self.base_module.definitions
        i = next((k for k, d in enumerate(defs) if _end(d.span) >= a_pos), len(defs))
        j = next((k for k in range(len(defs) - 1, -1, -1) if _start(defs[k].span) <= b_pos), -1)
        if i == 0 and j + 1 >= len(defs):
            return None  # the whole file: nothing to reuse
        start = old.offset(*_end(defs[i - 1].span)) if i > 0 else 0
        end = old.offset(*_start(defs[j + 1].span)) if j + 1 < len(defs) else len(old.text)
        region = new.text[start:end + delta]
        if j + 1 < len(defs) and _open_comment(region):
            return None
        # the parser (and its contextual lexer) must start the region in the state the previous definition
        # leaves it in: a dummy definition of the same kind stands in for it
        head = "" if i == 0 else ("block" if defs[i - 1].kind in ("model", "block") else defs[i - 1].kind) + " _ { }"
        pad = _pad(old.position(start), head)
        if pad is None or _nesting(region) + 8 > MAX_TREE_DEPTH // 2:
            return None
        parsed, diagnostics = parse(pad + region, self.file)
        if head:
            if not parsed.definitions or parsed.definitions[0].name != "_":
                return None
            parsed = n.Module(parsed.file, parsed.definitions[1:])
        end_new = new.position(end + delta)
        first_line = old.position(start)[0]
        if any(d.line == first_line for d in diagnostics) and old.text[old.starts[first_line - 1]:start].strip():
            return None  # an error on a line the region shares with code before it: the recovery could see that
        if diagnostics and j + 1 < len(defs):
            # the recovery must not have reached the region's end, where the next definition starts
            if any(d.code in ("NC003", "NC004") or (d.end_line, d.end_column) >= end_new for d in diagnostics):
                return None
        end_old = old.position(end)
        shift = _Shift(end_old[0], end_old[1], end_new[0], end_new[1])
        after = defs[j + 1:] if shift.identity else self._moved(defs[j + 1:], shift.node(defs[j + 1:]), shift)
        return n.Module(self.base_module.file, defs[:i] + parsed.definitions + after), diagnostics


def _open_comment(region: str) -> bool:
    """Whether a comment may run on past the region's end (a '#' on its last line)."""
    return "#" in region[region.rfind("\n") + 1:]


def _nesting(text: str) -> int:
    """How deeply brackets nest in ``text`` (an upper bound: strings and comments are counted too)."""
    if text.count("(") + text.count("[") + text.count("{") < 40:
        return 40
    depth = deepest = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth = max(depth - 1, 0)
    return deepest


def _pad(position: tuple[int, int], head: str) -> str | None:
    """Text that puts what follows at ``position`` (1-based line, column), starting with ``head``."""
    line, column = position
    if line > 1:
        return head + "\n" * (line - 1) + " " * (column - 1)
    if column - 1 >= len(head) + (1 if head else 0):
        return head + " " * (column - 1 - len(head))
    return None


# ---- memoized expansion and checking ---------------------------------------------

class _Memo:
    """Two generations: what the last analysis used, and what this one uses."""

    def __init__(self):
        self.previous: dict = {}
        self.current: dict = {}
        self.hits = 0

    def get(self, key):
        hit = self.current.get(key)
        if hit is None:
            hit = self.previous.get(key)
            if hit is not None:
                self.current[key] = hit
        if hit is not None:
            self.hits += 1
        return hit

    def put(self, key, value) -> None:
        self.current[key] = value

    def next_generation(self) -> None:
        self.previous, self.current = self.current, {}


class _MemoExpander(Expander):
    def __init__(self, module: n.Module, file: str, memo: _Memo):
        super().__init__(module, file)
        self._memo = memo
        self._env_keys: dict[int, tuple] = {}  # id(env) -> (env, its size, its key): environments are built once

    def _env_key(self, env: dict):
        known = self._env_keys.get(id(env))
        if known is not None and known[0] is env and known[1] == len(env):
            return known[2]
        key = tuple((k, freeze(v)) for k, v in env.items())
        self._env_keys[id(env)] = (env, len(env), key)
        return key

    def _eval_call(self, call, env):
        try:
            key = ("call", id(call), self._env_key(env))
        except Unhashable:
            return super()._eval_call(call, env)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is call:
            return hit[1]
        before = len(self.diagnostics)
        value = super()._eval_call(call, env)
        if value is not None and len(self.diagnostics) == before:
            self._memo.put(key, (call, value))
        return value


class DocumentAnalyzer:
    """The analysis of one open document, version after version."""

    def __init__(self, file: str):
        self.file = file
        self.parser = IncrementalParser(file)
        self.memo = _Memo()
        self._models: dict[str, tuple] = {}  # model name -> (model, blocks, graph, diagnostics)
        self._models_next: dict[str, tuple] = {}
        self.analyses = 0
        self.reused = 0  # models whose graph was reused (unchanged, or only moved)

    def analyze(self, text: str) -> Analysis:
        self.analyses += 1
        self._models_next = {}
        try:
            analysis = safe_analyze(text, self.file, parser=self.parser.parse, expander=self._expand_and_check)
        finally:
            self.memo.next_generation()
            self._models = self._models_next
        if any(d.code == "NC000" for d in analysis.diagnostics):
            self.parser.base_text = None  # start afresh next time
        return analysis

    def _expand_and_check(self, module: n.Module, model: n.ModelDef, params: dict):
        blocks = tuple(module.of_kind("block"))
        cached = self._models.get(model.name)
        if cached is not None and not params and len(cached[1]) == len(blocks):
            if cached[0] is model and all(x is y for x, y in zip(cached[1], blocks)):
                self._models_next[model.name] = cached
                self.reused += 1
                return cached[2], list(cached[3])
            moved = self._moved(cached, model, blocks)
            if moved is not None:
                self._models_next[model.name] = moved
                self.reused += 1
                return moved[2], list(moved[3])
        expander = _MemoExpander(module, module.file, self.memo)
        graph = expander.expand(model, params)
        checker = Checker(graph)  # clean layers come from check's own table of results
        checker.check()
        found = expander.diagnostics + checker.diagnostics
        if not params:
            self._models_next[model.name] = (model, blocks, graph, tuple(found))
        return graph, found

    def _moved(self, cached: tuple, model: n.ModelDef, blocks: tuple) -> tuple | None:
        """The cached graph of a model whose definition and blocks only moved (lines were added above them)."""
        origin, shift = self.parser.origin, self.parser.shift
        if shift is None:
            return None
        same = (lambda new, old: new is old or origin.get(id(new)) is old)
        if not same(model, cached[0]) or not all(same(b, old) for b, old in zip(blocks, cached[1])):
            return None
        nodes = []
        for node in cached[2].nodes:
            copy = object.__new__(type(node))
            copy.__dict__.update(node.__dict__)
            span = shift.span(node.span)
            copy.span, copy.line = span, node.line + span.line - node.span.line
            nodes.append(copy)
        graph = object.__new__(type(cached[2]))
        graph.__dict__.update(cached[2].__dict__)
        graph.nodes = nodes
        found = tuple(_moved_diagnostic(d, shift) for d in cached[3])
        return model, blocks, graph, found


def _moved_diagnostic(d, shift: _Shift):
    span = shift.span(d.span)
    if span == d.span:
        return d
    return replace(d, line=span.line, column=span.column, end_line=span.end_line, end_column=span.end_column)
