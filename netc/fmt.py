"""``netc fmt``: the canonical layout of a spec, comments kept.

The formatter works on Lark's parse tree (not on ``nodes``), so every token is
written as the user spelt it (``1e-3`` stays ``1e-3``) and the parentheses the
user wrote stay. What it fixes:

- indentation: four spaces a level; one statement a line; one setting a line;
- spacing: ``Conv2D(32, 3, padding="same")``, ``a + b``, ``name: int = 3``,
  ``Concatenate() <- a, b as c``; strings in double quotes where that changes
  nothing else; no trailing commas; ``(x,)`` for a one-tuple;
- blank lines: at most one in a row, none after ``{`` or before ``}``, exactly
  one between top-level definitions;
- a body written on one line (``if norm { BatchNormalization() }``, ``path { }``)
  stays on one line when it fits in ``MAX_WIDTH``; a statement or header that
  does not fit puts one argument a line, with a trailing comma, and so does a
  setting whose list (``callbacks [...]``) does not fit;
- the ``=`` of consecutive search bindings and the trailing comments of
  consecutive lines are aligned.

Comments are kept: an own-line comment stays before what follows it, a trailing
comment stays after the line it ends; a comment inside a statement that is
written on one line moves to the line above the statement.

Formatting refuses a spec with syntax errors. It is idempotent, and it keeps the
meaning: the result is parsed again and must give the same tree (tokens and
rules, positions aside), or ``FormatError`` is raised and nothing is written.
"""
from __future__ import annotations

import threading
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

from lark import Lark, Token, Tree
from lark.tree import Meta
from lark.exceptions import LarkError, UnexpectedInput

from netc.compiler.parser import GRAMMAR_PATH, MAX_SOURCE_CHARS, _unquote

INDENT = "    "
MAX_WIDTH = 100


class FormatError(Exception):
    """The spec cannot be formatted (a syntax error, or it is too large or too deep)."""

    def __init__(self, message: str, line: int = 1, column: int = 1):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


_comments = threading.local()  # the COMMENT tokens of the parse running on this thread


def _collect(token: Token) -> Token:
    _comments.tokens.append(token)
    return token


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                propagate_positions=True, maybe_placeholders=True, cache=True,
                lexer_callbacks={"COMMENT": _collect})


def parse_with_comments(text: str) -> tuple[Tree, list[Token]]:
    """The parse tree and the comments of a spec; raises FormatError on a syntax error."""
    if len(text) > MAX_SOURCE_CHARS:
        raise FormatError(f"the spec is longer than {MAX_SOURCE_CHARS:,} characters")
    _comments.tokens = []
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as e:
        line, column = getattr(e, "line", 1), getattr(e, "column", 1)
        raise FormatError(f"cannot format a spec with syntax errors (line {line}, column {column}); "
                          "run 'netc check' to see them", max(line, 1), max(column, 1)) from None
    except (LarkError, RecursionError) as e:
        raise FormatError(f"cannot parse the spec: {type(e).__name__}") from None
    comments, _comments.tokens = _comments.tokens, []
    return _without_bounds(tree), comments


# Keywords and brackets the grammar names so that the parser can take spans
# from them; the formatter writes its own, so they leave the tree it reads.
_BOUNDS = frozenset({"MODEL", "BLOCK", "TRAIN", "SEARCH", "ENSEMBLE", "INPUT", "FROM", "OUTPUT", "DATA_FORMAT",
                     "REPEAT", "IF", "RESIDUAL", "BRANCH", "MEMBERS", "NOT", "NEG", "POS", "TRUE", "FALSE",
                     "NONE", "CHANNELS", "LPAR", "RPAR", "LSQB", "RSQB", "LBRACE", "RBRACE"})


def _without_bounds(tree: Tree) -> Tree:
    """The tree without the bounding tokens, and a ``call`` subtree in each layer statement."""
    for subtree in tree.iter_subtrees():
        if subtree.data == "layer_stmt":
            name, arguments, close, merge, label = subtree.children
            subtree.children = [_call_tree(name, arguments, close), merge, label]
        subtree.children = [c for c in subtree.children if not (isinstance(c, Token) and c.type in _BOUNDS)]
    return tree


def _call_tree(name: Token, arguments: Tree | None, close: Token) -> Tree:
    meta = Meta()
    meta.empty = False
    meta.line, meta.column, meta.start_pos = name.line, name.column, name.start_pos
    meta.end_line, meta.end_column, meta.end_pos = close.end_line, close.end_column, close.end_pos
    return Tree("call", [name, arguments], meta)


def format_text(text: str) -> str:
    """The canonical layout of ``text``; raises FormatError when it cannot be formatted safely."""
    tree, comments = parse_with_comments(text)
    try:
        out = _Formatter(text, comments).module(tree)
        after, _ = parse_with_comments(out)
        same = _structure(after) == _structure(tree)
    except RecursionError:
        raise FormatError("the spec nests too deeply to format") from None
    if not same:  # pragma: no cover - a bug in the formatter
        raise FormatError("netc fmt would change the meaning of this spec (a bug in netc fmt; please report it)")
    return out


def is_formatted(text: str) -> bool:
    return format_text(text) == text


# ---- structure, for the meaning check ------------------------------------

def _structure(node):
    """The tree with positions, quoting and optional-but-empty parts left out."""
    if isinstance(node, Tree):
        children = [_structure(c) for c in node.children if c is not None]
        return (str(node.data), tuple(children))
    if isinstance(node, Token):
        value = _unquote(str(node)) if node.type == "STRING" else str(node)
        return (node.type, value)
    return None


# ---- layout --------------------------------------------------------------

@dataclass
class _Line:
    indent: int
    text: str
    first: int  # source lines this output line stands for (comments attach by them)
    last: int
    closer: bool = False  # starts with '}': comments before it belong to the body above
    align: tuple | None = None  # (group, name) for search bindings: '=' aligned within a group
    comment: str | None = None
    top_end: bool = False  # the closing line of a top-level definition


@dataclass
class _Block:
    """A braced list of items (statements, paths, settings) and where its braces are."""

    items: list
    open_line: int
    close_line: int
    kind: str = "stmt"  # stmt | path


@dataclass
class _Out:
    lines: list[_Line] = field(default_factory=list)


class _Formatter:
    def __init__(self, text: str, comments: list[Token]):
        self.text = text
        self.comments = comments
        self.src_lines = text.split("\n")
        self.lines: list[_Line] = []
        self._group = 0

    # -- whole module
    def module(self, tree: Tree) -> str:
        for item in tree.children:
            if item is not None:
                self.definition(item)
        return self.render()

    def definition(self, tree: Tree) -> None:
        kind = tree.data.replace("_def", "")
        name = tree.children[0]
        if kind in ("model", "block"):
            _, params, body = tree.children
            head = f"{kind} {name}"
            self.header(head, params, " {", tree.meta.line, body.meta.line)
            block = _Block([c for c in body.children if c is not None], body.meta.line, body.meta.end_line)
            self.expanded(block, 0)
            self.lines[-1].top_end = True
            return
        if kind == "train":
            params, settings = tree.children[1], tree.children[2:]
        else:
            params, settings = None, tree.children[1:]
        open_line = self._brace_line_after(params if params is not None else name)
        self.header(f"{kind} {name}", params, " {", tree.meta.line, open_line)
        settings = [s for s in settings if s is not None]
        if not settings and not self._comments_between(open_line, tree.meta.end_line):
            self.lines[-1].text += " }"
            self.lines[-1].last = tree.meta.end_line
        else:
            self._group += 1
            previous = None
            for setting in settings:
                if previous is not None and (setting.data != "search_binding" or previous.data != "search_binding"
                                             or self._gap(previous, setting)):
                    self._group += 1
                self.setting(setting, 1)
                previous = setting
            self.lines.append(_Line(0, "}", tree.meta.end_line, tree.meta.end_line, closer=True))
        self.lines[-1].top_end = True

    def header(self, head: str, params: Tree | None, tail: str, first: int, last: int) -> None:
        """``model Name(params) {``, one parameter a line when it does not fit."""
        if params is None:
            self.lines.append(_Line(0, head + tail, first, last))
            return
        items = [p for p in params.children if p is not None]
        rendered = [self.param(p) for p in items]
        one_line = f"{head}({', '.join(rendered)}){tail}"
        if len(one_line) <= MAX_WIDTH or not items:
            self.lines.append(_Line(0, one_line, first, last))
            return
        self.lines.append(_Line(0, head + "(", first, first))
        for p, text in zip(items, rendered):
            self.lines.append(_Line(1, text + ",", p.meta.line, p.meta.end_line))
        self.lines.append(_Line(0, ")" + tail, params.meta.end_line, last, closer=True))

    def param(self, tree: Tree) -> str:
        name, type_, default = tree.children
        text = str(name)
        if type_ is not None:
            text += f": {type_}"
        if default is not None:
            text += f" = {self.expr(default)}"
        return text

    def setting(self, tree: Tree, indent: int) -> None:
        first, last = tree.meta.line, tree.meta.end_line
        data = tree.data
        if data == "search_binding":
            name, value = tree.children
            self.lines.append(_Line(indent, f" = {self.expr(value)}", first, last, align=(self._group, str(name))))
            return
        if data == "ensemble_members":
            text = "members " + ", ".join(self.expr(v) for v in tree.children if v is not None)
        else:
            key, value, *rest = tree.children
            tail = f" {rest[0]}" if rest and rest[0] is not None else ""
            text = f"{key} {self.expr(value)}{tail}"
            if len(INDENT * indent + text) > MAX_WIDTH and self.wrapped_items(f"{key} ", value, tail, indent,
                                                                                first, last):
                return
        self.lines.append(_Line(indent, text, first, last))

    def wrapped_items(self, head: str, value, tail: str, indent: int, first: int, last: int) -> bool:
        """A setting too long for a line, whose value is a list or tuple: one item a line."""
        brackets = {"list_lit": "[]", "tuple_lit": "()"}.get(value.data)
        items = [c for c in value.children if c is not None]
        if brackets is None or len(items) < 2:
            return False
        self.lines.append(_Line(indent, head + brackets[0], first, value.meta.line))
        for item in items:
            self.lines.append(_Line(indent + 1, self.expr(item) + ",", item.meta.line, item.meta.end_line))
        self.lines.append(_Line(indent, brackets[1] + tail, value.meta.end_line, last, closer=True))
        return True

    # -- statements
    def expanded(self, block: _Block, indent: int, closer_prefix: str = "") -> None:
        """The items of ``block`` one a line at ``indent + 1``, then the closing brace at ``indent``."""
        for item in block.items:
            self.item(item, indent + 1, block.kind)
        self.lines.append(_Line(indent, closer_prefix + "}", block.close_line, block.close_line, closer=True))

    def item(self, tree: Tree, indent: int, kind: str) -> None:
        if kind == "path":
            body = tree.children[0]
            segments = ["path ", self.body_block(body)]
            self.compound(segments, indent, tree.meta.line, tree.meta.end_line)
        else:
            self.statement(tree, indent)

    def statement(self, tree: Tree, indent: int) -> None:
        first, last = tree.meta.line, tree.meta.end_line
        segments = self.segments(tree)
        if all(isinstance(s, str) for s in segments):
            text = "".join(segments)
            if tree.data == "layer_stmt" and len(INDENT * indent + text) > MAX_WIDTH:
                if self.wrapped_call(tree, indent):
                    return
            self.lines.append(_Line(indent, text, first, last))
            return
        self.compound(segments, indent, first, last)

    def segments(self, tree: Tree) -> list:
        """A statement as text pieces and ``_Block``s (its braced bodies)."""
        data, ch = tree.data, tree.children
        if data == "layer_stmt":
            call, merge, label = ch
            text = self.call(call)
            if merge is not None:
                text += " <- " + ", ".join(str(t) for t in merge.children)
            return [text + self.label(label)]
        if data == "input_stmt":
            return [f"input {ch[0]}: {self.expr(ch[1])}"]
        if data == "from_stmt":
            return [f"from {ch[0]}"]
        if data == "output_stmt":
            return ["output " + ", ".join(str(t) for t in ch)]
        if data == "data_format_stmt":
            return [f"data_format {ch[0]}"]
        if data == "repeat_stmt":
            var, count, body, label = ch
            head = "repeat " + (f"{var} in " if var is not None else "") + self.expr(count) + " "
            return [head, self.body_block(body), self.label(label)]
        if data == "if_stmt":
            out = []
            node = tree
            while True:
                cond, then, other = node.children
                out += [f"if {self.expr(cond)} ", self.body_block(then)]
                if other is None:
                    break
                out.append(" else ")
                if other.data == "if_stmt":
                    node = other
                    continue
                out.append(self.body_block(other))
                break
            return out
        if data == "residual_stmt":
            body, shortcut, label = ch
            out = ["residual ", self.body_block(body)]
            if shortcut is not None:
                out += [" shortcut ", self.body_block(shortcut.children[0])]
            return out + [self.label(label)]
        if data == "branch_stmt":
            call, *paths, label = ch
            paths = [p for p in paths if p is not None]
            open_line = self._brace_line_after(call)
            close_line = self._brace_line_before(label) if label is not None else tree.meta.end_line
            return [f"branch {self.call(call)} ", _Block(paths, open_line, close_line, "path"), self.label(label)]
        raise AssertionError(f"unknown statement {data}")  # pragma: no cover - the grammar has no other

    def body_block(self, body: Tree) -> _Block:
        return _Block([c for c in body.children if c is not None], body.meta.line, body.meta.end_line)

    def compound(self, segments: list, indent: int, first: int, last: int) -> None:
        """A statement with bodies: on one line when every body was written on one line and it fits."""
        inline = self.inline_text(segments)
        if inline is not None and len(INDENT * indent + inline) <= MAX_WIDTH:
            self.lines.append(_Line(indent, inline, first, last))
            return
        text, start = "", first
        closer = False
        for segment in segments:
            if isinstance(segment, str):
                text += segment
                continue
            block_inline = self.inline_block(segment)
            if block_inline is not None and len(INDENT * indent + text + block_inline) <= MAX_WIDTH:
                text += block_inline
                continue
            self.lines.append(_Line(indent, text + "{", start, segment.open_line, closer=closer))
            for item in segment.items:
                self.item(item, indent + 1, segment.kind)
            text, start, closer = "}", segment.close_line, True
        self.lines.append(_Line(indent, text, start, max(last, start), closer=closer))

    def inline_text(self, segments: list) -> str | None:
        out = []
        for segment in segments:
            if isinstance(segment, str):
                out.append(segment)
                continue
            block = self.inline_block(segment)
            if block is None:
                return None
            out.append(block)
        return "".join(out)

    def inline_block(self, block: _Block) -> str | None:
        """``{ a  b }`` for a body written on one line (``{ }`` when empty), else None."""
        if not block.items:
            return "{ }" if not self._comments_between(block.open_line, block.close_line) else None
        if block.open_line != block.close_line:
            return None
        parts = []
        for item in block.items:
            if block.kind == "path":
                inner = self.inline_block(self.body_block(item.children[0]))
                if inner is None:
                    return None
                parts.append("path " + inner)
                continue
            text = self.inline_text(self.segments(item))
            if text is None:
                return None
            parts.append(text)
        return "{ " + "  ".join(parts) + " }"

    def wrapped_call(self, tree: Tree, indent: int) -> bool:
        """A layer statement too long for a line: one argument a line."""
        call, merge, label = tree.children
        name, arguments = call.children
        args = [a for a in (arguments.children if arguments is not None else ()) if a is not None]
        if not args:
            return False
        self.lines.append(_Line(indent, f"{name}(", tree.meta.line, call.children[0].line))
        for arg in args:
            self.lines.append(_Line(indent + 1, self.argument(arg) + ",", arg.meta.line, arg.meta.end_line))
        tail = ")"
        if merge is not None:
            tail += " <- " + ", ".join(str(t) for t in merge.children)
        tail += self.label(label)
        self.lines.append(_Line(indent, tail, call.meta.end_line, tree.meta.end_line, closer=True))
        return True

    def label(self, label: Tree | None) -> str:
        return "" if label is None else f" as {label.children[0]}"

    # -- expressions
    def call(self, tree: Tree) -> str:
        name, arguments = tree.children
        return f"{name}({self.arguments(arguments)})"

    def arguments(self, tree: Tree | None) -> str:
        if tree is None:
            return ""
        return ", ".join(self.argument(a) for a in tree.children if a is not None)

    def argument(self, tree: Tree) -> str:
        if tree.data == "keyword_arg":
            name, value = tree.children
            return f"{name}={self.expr(value)}"
        return self.expr(tree.children[0])

    def expr(self, node) -> str:
        data, ch = node.data, node.children
        if data in ("int_lit", "float_lit", "name_ref"):
            return str(ch[0])
        if data == "string_lit":
            return _string(str(ch[0]))
        if data in _WORDS:
            return _WORDS[data]
        if data == "paren":
            return f"({self.expr(ch[0])})"
        if data == "tuple_lit":
            items = [self.expr(c) for c in ch if c is not None]
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        if data == "list_lit":
            return "[" + ", ".join(self.expr(c) for c in ch if c is not None) + "]"
        if data == "call_expr":
            return self.call(node)
        if data == "method_call":
            receiver, method, arguments = ch
            return f"{receiver}.{method}({self.arguments(arguments)})"
        if data in ("expr", "arith"):  # a chain: operands and operators
            return " ".join(self.expr(c) if isinstance(c, Tree) else str(c) for c in ch)
        if data == "not_op":
            return "not " + self.expr(ch[0])
        if data == "neg":
            return "-" + self.expr(ch[0])
        if data == "pos":
            return "+" + self.expr(ch[0])
        raise AssertionError(f"unknown expression {data}")  # pragma: no cover

    # -- source positions
    def _brace_line_after(self, node) -> int:
        """The line of the first '{' after a token or subtree (skipping blanks and comments)."""
        pos = node.end_pos if isinstance(node, Token) else node.meta.end_pos
        return self._line_of(self._scan(pos, "{"))

    def _brace_line_before(self, node) -> int:
        pos = node.start_pos if isinstance(node, Token) else node.meta.start_pos
        found = self.text.rfind("}", 0, pos)
        return self._line_of(max(found, 0))

    def _scan(self, pos: int, char: str) -> int:
        text = self.text
        while pos < len(text):
            c = text[pos]
            if c == char:
                return pos
            if c == "#":
                end = text.find("\n", pos)
                pos = len(text) if end < 0 else end
                continue
            pos += 1
        return len(text) - 1

    def _line_of(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def _comments_between(self, first: int, last: int) -> bool:
        """Whether a comment lies inside braces on lines ``first`` to ``last``.

        A comment on the closing brace's line comes after the brace (it runs to the end of the line).
        """
        return any(first <= c.line < last for c in self.comments)

    def _gap(self, previous: Tree, current: Tree) -> bool:
        """Whether a blank line or an own-line comment will stand between two settings in the output.

        A comment inside ``current`` (not on its last line) moves above it, so it counts too.
        """
        after, before = previous.meta.end_line, current.meta.line
        if any(after < c.line < current.meta.end_line for c in self.comments):
            return True
        return any(not self.src_lines[i - 1].strip() for i in range(after + 1, before) if i - 1 < len(self.src_lines))

    # -- comments, blank lines, text
    def render(self) -> str:
        lines = self.lines
        own: dict[int, list[Token]] = {}  # line index -> own-line comments before it
        tail: list[Token] = []
        ends = {ln.last: i for i, ln in enumerate(lines)}  # source line -> the last output line ending there
        firsts = [ln.first for ln in lines]
        for comment in self.comments:
            line = comment.line
            target = ends.get(line)
            if target is not None and lines[target].comment is None:
                lines[target].comment = str(comment).rstrip()
                continue
            after = bisect_right(firsts, line)  # the first output line that starts below the comment
            inside = next((k for k in range(after - 1, max(after - 64, -1), -1)
                           if lines[k].first <= line <= lines[k].last), None)
            if inside is None:
                inside = after if after < len(lines) else None
            if inside is None:
                tail.append(comment)
            else:
                own.setdefault(inside, []).append(comment)
        self._align_bindings()

        out: list[tuple[int, str, str | None]] = []  # (indent, code, trailing comment)
        blanks = [0]  # blanks[k]: how many of the first k source lines are blank
        for text in self.src_lines:
            blanks.append(blanks[-1] + (not text.strip()))
        state = {"open": True, "last": 0, "top_end": False}  # just after '{' (or at the start); last source line

        def emit(indent: int, code: str, comment: str | None, first: int, last: int, closer: bool, top: bool):
            gap = state["last"] + 1 < first and blanks[min(first - 1, len(blanks) - 1)] > blanks[
                min(state["last"], len(blanks) - 1)]
            force = state["top_end"] and indent == 0
            if (gap or force) and not state["open"] and not closer and out:
                out.append((0, "", None))
            out.append((indent, code, comment))
            state["open"] = code.endswith("{") or code.endswith("(")
            state["last"] = max(state["last"], last)
            state["top_end"] = top

        for i, line in enumerate(lines):
            for comment in own.get(i, ()):
                emit(line.indent + (1 if line.closer else 0), "", str(comment).rstrip(), comment.line, comment.line,
                     False, False)
            emit(line.indent, line.text, line.comment, line.first, line.last, line.closer, line.top_end)
        for comment in tail:
            emit(0, "", str(comment).rstrip(), comment.line, comment.line, False, False)
        return _join(out)

    def _align_bindings(self) -> None:
        groups: dict[int, list[_Line]] = {}
        for line in self.lines:
            if line.align is not None:
                groups.setdefault(line.align[0], []).append(line)
        for members in groups.values():
            width = max(len(m.align[1]) for m in members)
            for m in members:
                m.text = m.align[1].ljust(width) + m.text
                m.align = None


_WORDS = {"true_lit": "true", "false_lit": "false", "none_lit": "none", "channels_lit": "channels"}


def _string(literal: str) -> str:
    """A string literal in double quotes when that needs no new escape."""
    if literal.startswith("'"):
        body = literal[1:-1]
        if '"' not in body and "\\'" not in body:
            return f'"{body}"'
    return literal


def _join(out: list[tuple[int, str, str | None]]) -> str:
    """The lines as text; trailing comments of consecutive lines aligned."""
    texts = []
    i = 0
    while i < len(out):
        indent, code, comment = out[i]
        if comment is not None and code:
            j = i
            while j < len(out) and out[j][2] is not None and out[j][1] and out[j][0] == indent:
                j += 1
            width = max(len(INDENT * out[k][0] + out[k][1]) for k in range(i, j))
            for k in range(i, j):
                ind, c, com = out[k]
                texts.append((INDENT * ind + c).ljust(width) + "  " + com)
            i = j
            continue
        if not code and comment is not None:
            texts.append(INDENT * indent + comment)
        else:
            texts.append(INDENT * indent + code if code else "")
        i += 1
    while texts and not texts[-1]:
        texts.pop()
    return "\n".join(t.rstrip() for t in texts) + "\n" if texts else ""
