"""Stage 1: source text -> ``nodes.Module`` plus syntax diagnostics.

Lark (LALR) parses with the grammar in ``netc/grammar/netc.lark``; one
Transformer, run inside the parser, builds the frozen nodes as rules are
reduced, with spans taken from the tokens at each rule's ends. The parser recovers
from syntax errors (dropping the offending token, closing what the end of file
left open) so that one run reports every error it can, and the parts that
parse still reach the semantic checks. Limits on size and nesting turn
pathological input into a diagnostic instead of a RecursionError.
"""
from __future__ import annotations

from dataclasses import replace
import threading
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from netc import diagnostics as dg
from netc.compiler import nodes as n
from netc.compiler import lalr
from netc.compiler.lexer import SpecLexer
from netc.diagnostics import Diagnostic, Span

GRAMMAR_PATH = Path(__file__).resolve().parent.parent / "grammar" / "netc.lark"
MAX_SOURCE_CHARS = 8_000_000
MAX_TREE_DEPTH = 200
MAX_SYNTAX_ERRORS = 50

SETTING_KEYS = ("data", "test_data", "validation_data", "optimizer", "loss", "metrics", "epochs",
                "batch_size", "validation_split", "callbacks", "seed", "loss_weights", "shuffle",
                "class_weight", "steps_per_epoch", "strategy", "trials", "objective", "prune",
                "timeout", "workers", "weights", "iterations", "folds", "holdout", "max_failures")

_TOKEN_WORDS = {
    "NAME": "a name", "INT": "an integer", "FLOAT": "a float", "STRING": "a string",
    "SETTING_KEY": "a setting", "DIRECTION": "maximize or minimize", "$END": "the end of the file",
    "COMP_OP": "a comparison", "ADD_OP": "'+' or '-'", "MUL_OP": "'*', '/', '//' or '%'",
}
_CLOSERS = ("RPAR", "RSQB", "RBRACE")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer=SpecLexer,
                maybe_placeholders=True, transformer=_ToNodes(), cache=True)


def parse(text: str, file: str = "<string>") -> tuple[n.Module, list[Diagnostic]]:
    """Parse a whole spec. Never raises: problems come back as diagnostics."""
    if len(text) > MAX_SOURCE_CHARS:
        return n.Module(file, ()), [dg.make(
            "NC004", f"the spec is {len(text):,} characters long; netc reads at most {MAX_SOURCE_CHARS:,}",
            Span.point(), file, hint="split the spec into several files")]
    recovery = _Recovery(file, text)
    _state.file, _state.diagnostics, _state.too_deep = file, recovery.diagnostics, None
    try:
        module = lalr.parse(_lark(), text, recovery.on_error)
    except UnexpectedInput as e:  # recovery gave up; report it unless it is a repeat
        recovery.record(e)
        return n.Module(file, ()), _by_position(recovery.diagnostics)
    finally:
        _state.diagnostics = None
    return module, _by_position(recovery.diagnostics)


def _by_position(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Syntax errors come from the parser and the nesting limit from the tree it builds: report them in order."""
    return sorted(diagnostics, key=lambda d: (d.line, d.column))


class _Recovery:
    """Collects syntax errors and decides how the parser resumes after each."""

    def __init__(self, file: str, text: str):
        self.file = file
        self.text = text
        self.diagnostics: list[Diagnostic] = []
        self._last_line = -1
        self._reported_eof = False

    def on_error(self, e: UnexpectedInput) -> bool:
        if len(self.diagnostics) >= MAX_SYNTAX_ERRORS:
            return False
        if isinstance(e, UnexpectedToken) and e.token.type == "$END":
            return self._close_at_end(e)
        self.record(e)
        if isinstance(e, UnexpectedToken) and self._may_close_before(e.token):
            self._close_before(e)
        return True  # Lark resumes after the offending token (or character)

    def _may_close_before(self, token: Token) -> bool:
        """Brackets are closed for a closer, or for a token that starts a line (the line above was cut short)."""
        if token.type in _CLOSERS:
            return True
        start = self.text.rfind("\n", 0, token.start_pos) + 1
        return self.text[start:token.start_pos].strip() == ""

    def _close_before(self, e: UnexpectedToken) -> None:
        """If closing open brackets makes the token fit (a missing ')' or '}'), close them and feed it."""
        parser = e.interactive_parser
        trial = parser.copy(deepcopy_values=False)
        closers = []
        for _ in range(6):
            if e.token.type in trial.accepts():
                for closer in closers:
                    parser.feed_token(_stand_in(closer, e.token))
                parser.feed_token(e.token)
                if closers and self.diagnostics and self.diagnostics[-1].code == "NC001":
                    missing = "".join(_display(c) for c in closers)
                    self.diagnostics[-1] = replace(
                        self.diagnostics[-1], message=f"'{missing}' is missing before {_describe_token(e.token)}",
                        hint=f"close the bracket opened earlier with '{missing}'")
                return
            closer = next((c for c in _CLOSERS if c in trial.accepts()), None)
            if closer is None:
                return
            trial.feed_token(_stand_in(closer, e.token))
            closers.append(closer)

    def _close_at_end(self, e: UnexpectedToken) -> bool:
        """At the end of the file, close everything still open in one go, so the tree is whole."""
        parser = e.interactive_parser
        missing = []
        while not _can_end(parser) and len(missing) < MAX_TREE_DEPTH:
            closer = next((c for c in _CLOSERS if c in parser.accepts()), None)
            if closer is None:
                break
            parser.feed_token(_stand_in(closer, e.token))
            missing.append(_display(closer))
        if not self._reported_eof:
            self._reported_eof = True
            what = f"; '{''.join(missing)}' is missing" if missing else ""
            self._add("NC003", f"the spec ends before it is complete{what}", _token_span(e.token),
                      "close every '{', '(' and '[' that is opened")
        return bool(missing) and _can_end(parser)

    def record(self, e: UnexpectedInput) -> None:
        line = getattr(e, "line", -1)
        if line == self._last_line:  # one error a line: the rest are usually echoes
            return
        self._last_line = line
        if isinstance(e, UnexpectedCharacters):
            char = e.char if hasattr(e, "char") else "?"
            span = Span(e.line, e.column, e.line, e.column + 1)
            self._add("NC002", f"unexpected character {char!r}", span,
                      "remove it; strings are quoted (\"...\" or '...') and comments start with '#'")
            return
        if isinstance(e, UnexpectedToken):
            self._unexpected_token(e)
            return
        self._add("NC001", "the spec cannot be parsed here", Span.point(max(line, 1), 1))

    def _unexpected_token(self, e: UnexpectedToken) -> None:
        token = e.token
        span = _token_span(token)
        expected = sorted(e.expected or ())
        if token.type == "$END":
            self._add("NC003", "the spec ends before it is complete", span, _expected_hint(expected))
            return
        if token.type == "NAME" and "SETTING_KEY" in expected:
            guess = dg.did_you_mean(str(token), SETTING_KEYS)
            message = f"'{token}' is not a setting"
            if guess:
                message += f"; did you mean '{guess}'?"
            self._add("NC207", message, span, "settings are: " + ", ".join(SETTING_KEYS))
            return
        self._add("NC001", f"unexpected {_describe_token(token)}", span, _expected_hint(expected))

    def _add(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(dg.make(code, message, span, self.file, hint))


def _stand_in(terminal: str, where: Token) -> Token:
    """A missing closer the recovery inserts, placed where the parser noticed it was missing."""
    return Token.new_borrow_pos(terminal, _display(terminal), where)


def _can_end(parser) -> bool:
    """Whether the file could end here (tried on a copy of the parser)."""
    trial = parser.copy(deepcopy_values=False)
    try:
        trial.parser_state.feed_token(Token("$END", ""), True)
    except UnexpectedInput:
        return False
    return True


def _display(terminal: str | None) -> str:
    if terminal is None:
        return "?"
    try:
        pattern = _lark().get_terminal(terminal).pattern
    except KeyError:
        return terminal
    return pattern.value if pattern.type == "str" else terminal


def _describe_token(token: Token) -> str:
    if token.type in ("NAME", "INT", "FLOAT", "STRING"):
        return f"{_TOKEN_WORDS[token.type][2:] if token.type != 'INT' else 'integer'} {str(token)!r}"
    return f"'{token}'"


_FIRST_EXPECTED = ("NAME", "INT", "FLOAT", "STRING")


def _hint_order(terminal: str) -> tuple:
    """Values first, then punctuation, then keywords: what the user most likely meant to write."""
    if terminal in _FIRST_EXPECTED:
        return (0, _FIRST_EXPECTED.index(terminal))
    shown = _display(terminal)
    return (1 if not shown[:1].isalpha() else 2, shown)


def _expected_hint(expected: list[str]) -> str | None:
    words = [_TOKEN_WORDS.get(t) or f"'{_display(t)}'" for t in sorted(expected, key=_hint_order)]
    if not words:
        return None
    if len(words) > 8:
        words = words[:8] + ["..."]
    return "expected " + ", ".join(words)


def _token_span(token: Token) -> Span:
    line = token.line or 1
    column = token.column or 1
    end_line = token.end_line or line
    end_column = token.end_column or column + max(len(str(token)), 1)
    if (end_line, end_column) <= (line, column):
        end_column = column + 1
    return Span(line, column, end_line, end_column)


# ---- the Transformer -----------------------------------------------------
#
# It runs inside the LALR parser (Lark's ``transformer=`` option): each rule's
# callback builds its node as the rule is reduced, so no parse tree is built
# and walked again. Spans come from the tokens at a rule's two ends (keywords
# and closing brackets are named terminals for this), and every node records
# how deep its subtree goes, so the nesting limit costs no extra pass.

_state = threading.local()  # the parse running on this thread: its file and what it found too deep


def _tspan(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


def _from_tokens(first: Token, last: Token) -> Span:
    return Span(first.line, first.column, last.end_line, last.end_column)


def _start_to(first: Token, last) -> Span:
    """From a token to the end of a node (or a token)."""
    if isinstance(last, Token):
        return Span(first.line, first.column, last.end_line, last.end_column)
    end = last.span  # a node, a Label or a body
    return Span(first.line, first.column, end.end_line, end.end_column)


def _present(children) -> list:
    return [c for c in children if c is not None]


def _label(token: Token | None) -> n.Label | None:
    return None if token is None else n.Label(str(token), _tspan(token))


def _deepest(nodes) -> int:
    return max((node.depth for node in nodes), default=0)


def _note_depth(node):
    """Remember the first node whose subtree is deeper than the limit (the definition holding it is dropped)."""
    if node.depth > MAX_TREE_DEPTH and _state.too_deep is None:
        _state.too_deep = node
    return node


class _Body(tuple):
    """A braced body's statements, with the span of its braces and its depth."""

    span: Span
    depth: int


def _body(stmts: list, open_token: Token, close_token: Token) -> _Body:
    body = _Body(stmts)
    body.span = _from_tokens(open_token, close_token)
    body.depth = _deepest(stmts)
    return body


_PRECEDENCE = {"OR": 1, "AND": 2, "COMP_OP": 3, "ADD_OP": 4, "MUL_OP": 5}


def _binop(left, op: Token, right) -> n.BinOp:
    span = Span(left.span.line, left.span.column, right.span.end_line, right.span.end_column)
    depth = 1 + (left.depth if left.depth > right.depth else right.depth)
    return _note_depth(n.BinOp(span, str(op), left, right, depth=depth))


def _order(chain: list):
    """``[a, op, b, op, c]`` as a tree, by precedence; every operator is left-associative."""
    operands, operators = [chain[0]], []
    for i in range(1, len(chain), 2):
        op = chain[i]
        level = _PRECEDENCE[op.type]
        while operators and _PRECEDENCE[operators[-1].type] >= level:
            right = operands.pop()
            operands.append(_binop(operands.pop(), operators.pop(), right))
        operators.append(op)
        operands.append(chain[i + 1])
    while operators:
        right = operands.pop()
        operands.append(_binop(operands.pop(), operators.pop(), right))
    return operands[0]


class _ToNodes(Transformer):
    """Builds ``nodes`` from what the parser reduces; the only place Lark's results are read."""

    # -- definitions
    def start(self, children):
        return n.Module(_state.file, tuple(_present(children)))

    def _definition(self, node):
        """A definition nested deeper than the limit is dropped with a diagnostic; the others are kept."""
        deep, _state.too_deep = _state.too_deep, None
        if deep is None:
            return node
        span = _span_at_limit(node)
        _state.diagnostics.append(dg.make(
            "NC004", f"the spec nests more than {MAX_TREE_DEPTH} levels deep here", span, _state.file,
            "flatten the expression or split it into parameters"))
        return None

    def model_def(self, children):
        keyword, name, params, body = children
        return self._definition(n.ModelDef("model", str(name), _tspan(name), _start_to(keyword, body),
                                           params or (), tuple(body)))

    def block_def(self, children):
        keyword, name, params, body = children
        return self._definition(n.BlockDef("block", str(name), _tspan(name), _start_to(keyword, body),
                                           params or (), tuple(body)))

    def train_def(self, children):
        keyword, name, params, *settings, close = children
        return self._definition(n.DirectiveDef("train", str(name), _tspan(name), _from_tokens(keyword, close),
                                               params or (), tuple(settings)))

    def search_def(self, children):
        keyword, name, *settings, close = children
        return self._definition(n.DirectiveDef("search", str(name), _tspan(name), _from_tokens(keyword, close),
                                               (), tuple(settings)))

    def ensemble_def(self, children):
        keyword, name, *settings, close = children
        return self._definition(n.DirectiveDef("ensemble", str(name), _tspan(name), _from_tokens(keyword, close),
                                               (), tuple(settings)))

    def param_list(self, children):
        return tuple(_present(children))

    def param(self, children):
        name, type_token, default = children
        last = default if default is not None else (type_token if type_token is not None else name)
        return n.Param(str(name), None if type_token is None else str(type_token), default,
                       _start_to(name, last), None if type_token is None else _tspan(type_token))

    # -- directive settings
    def train_setting(self, children):
        key, value = children
        return n.Setting(str(key), _tspan(key), (value,), None, _start_to(key, value))

    def search_binding(self, children):
        key, value = children
        return n.Setting(str(key), _tspan(key), (value,), None, _start_to(key, value), is_binding=True)

    def search_setting(self, children):
        key, value, direction = children
        span = _start_to(key, direction if direction is not None else value)
        return n.Setting(str(key), _tspan(key), (value,), None if direction is None else str(direction), span)

    ensemble_setting = search_setting

    def ensemble_members(self, children):
        keyword, *members = children
        return n.Setting("members", _tspan(keyword), tuple(members), None, _start_to(keyword, members[-1]))

    # -- statements
    def body(self, children):
        return _body(children[1:-1], children[0], children[-1])

    def input_stmt(self, children):
        keyword, name, shape = children
        return _note_depth(n.InputStmt(_start_to(keyword, shape), str(name), _tspan(name), shape,
                                       depth=1 + shape.depth))

    def from_stmt(self, children):
        keyword, name = children
        return n.FromStmt(_from_tokens(keyword, name), str(name), _tspan(name))

    def output_stmt(self, children):
        keyword, *names = children
        return n.OutputStmt(_from_tokens(keyword, names[-1]), tuple(_label(t) for t in names))

    def data_format_stmt(self, children):
        keyword, value = children
        return n.DataFormatStmt(_from_tokens(keyword, value), str(value), _tspan(value))

    def layer_stmt(self, children):
        name, arguments, close, merge_inputs, label = children
        arguments = arguments or ()
        call = _note_depth(n.Call(_from_tokens(name, close), str(name), _tspan(name), arguments,
                                  depth=1 + _deepest(arguments)))
        last = label if label is not None else (merge_inputs[-1] if merge_inputs else call)
        span = _start_to(name, last)
        return _note_depth(n.LayerStmt(span, call, merge_inputs, _label(label), depth=1 + call.depth))

    def merge_inputs(self, children):
        return tuple(_label(t) for t in children)

    def label(self, children):
        return children[0]  # the NAME token: its statement makes the Label and reads its end

    def repeat_stmt(self, children):
        keyword, var, count, body, label = children
        span = _start_to(keyword, label if label is not None else body)
        depth = 1 + max(count.depth, body.depth)
        return _note_depth(n.RepeatStmt(span, _label(var), count, tuple(body), _label(label), depth=depth))

    def if_stmt(self, children):
        keyword, condition, then_body, else_part = children
        if isinstance(else_part, n.IfStmt):  # ``else if``: a body of one statement
            else_part = _body_of(else_part)
        last = else_part if else_part is not None else then_body
        depth = 1 + max(condition.depth, then_body.depth, else_part.depth if else_part is not None else 0)
        return _note_depth(n.IfStmt(_start_to(keyword, last), condition, tuple(then_body),
                                    None if else_part is None else tuple(else_part), depth=depth))

    def residual_stmt(self, children):
        keyword, body, shortcut, label = children
        last = label if label is not None else (shortcut if shortcut is not None else body)
        depth = 1 + max(body.depth, shortcut.depth if shortcut is not None else 0)
        return _note_depth(n.ResidualStmt(_start_to(keyword, last), tuple(body),
                                          None if shortcut is None else tuple(shortcut), _label(label), depth=depth))

    def shortcut(self, children):
        return children[0]

    def branch_stmt(self, children):
        keyword, merge, *paths, close, label = children
        span = _from_tokens(keyword, label if label is not None else close)
        depth = 1 + max(merge.depth, _deepest(paths))
        return _note_depth(n.BranchStmt(span, merge, tuple(tuple(p) for p in paths), _label(label), depth=depth))

    def path(self, children):
        return children[0]

    # -- calls and arguments
    def call(self, children):
        name, arguments, close = children
        arguments = arguments or ()
        return _note_depth(n.Call(_from_tokens(name, close), str(name), _tspan(name), arguments,
                                  depth=1 + _deepest(arguments)))

    call_expr = call

    def method_call(self, children):
        receiver, method, arguments, close = children
        arguments = arguments or ()
        return _note_depth(n.Call(_from_tokens(receiver, close), str(method), _tspan(method), arguments,
                                  str(receiver), _tspan(receiver), depth=1 + _deepest(arguments)))

    def arguments(self, children):
        return tuple(_present(children))

    def positional_arg(self, children):
        value = children[0]
        return n.Argument(None, value, value.span, depth=1 + value.depth)

    def keyword_arg(self, children):
        name, value = children
        return n.Argument(str(name), value, _start_to(name, value), _tspan(name), depth=1 + value.depth)

    # -- expressions
    def expr(self, children):
        return _order(children)

    def arith(self, children):
        comparisons = [op for op in children[1::2] if op.type == "COMP_OP"]
        if len(comparisons) > 1:
            op = comparisons[1]
            _state.diagnostics.append(dg.make(
                "NC001", f"unexpected '{op}': comparisons do not chain", _tspan(op), _state.file,
                "compare two values at a time and join the comparisons with 'and'"))
        return _order(children)

    def _unary(self, children, op: str):
        token, operand = children
        return _note_depth(n.UnaryOp(_start_to(token, operand), op, operand, depth=1 + operand.depth))

    def not_op(self, children):
        return self._unary(children, "not")

    def neg(self, children):
        return self._unary(children, "-")

    def pos(self, children):
        return self._unary(children, "+")

    def int_lit(self, children):
        return n.Literal(_tspan(children[0]), int(children[0]))

    def float_lit(self, children):
        return n.Literal(_tspan(children[0]), float(children[0]))

    def string_lit(self, children):
        return n.Literal(_tspan(children[0]), _unquote(str(children[0])))

    def true_lit(self, children):
        return n.Literal(_tspan(children[0]), True)

    def false_lit(self, children):
        return n.Literal(_tspan(children[0]), False)

    def none_lit(self, children):
        return n.Literal(_tspan(children[0]), None)

    def channels_lit(self, children):
        return n.ChannelsExpr(_tspan(children[0]))

    def name_ref(self, children):
        return n.NameRef(_tspan(children[0]), str(children[0]))

    def paren(self, children):
        inner = children[1]  # parentheses leave no node, but they count towards the nesting limit
        object.__setattr__(inner, "depth", inner.depth + 1)
        return _note_depth(inner)

    def tuple_lit(self, children):
        items = tuple(c for c in children[1:-1] if c is not None)
        return _note_depth(n.TupleExpr(_from_tokens(children[0], children[-1]), items, depth=1 + _deepest(items)))

    def list_lit(self, children):
        items = tuple(c for c in children[1:-1] if c is not None)
        return _note_depth(n.ListExpr(_from_tokens(children[0], children[-1]), items, depth=1 + _deepest(items)))


def _body_of(stmt: n.IfStmt) -> _Body:
    body = _Body((stmt,))
    body.span = stmt.span
    body.depth = stmt.depth
    return body


def _span_at_limit(definition: n.Definition) -> Span:
    """Where nesting passes the limit, counted from the definition: MAX_TREE_DEPTH steps down its deepest path."""
    node = definition
    for _ in range(MAX_TREE_DEPTH):
        children = [c for c in _child_nodes(node) if hasattr(c, "depth")]
        if not children:
            break
        node = max(children, key=lambda c: c.depth)
    span = node.span
    return Span(span.line, span.column, span.line, span.column + 1)


def _child_nodes(node):
    for value in vars(node).values():
        if isinstance(value, tuple):
            for item in value:  # statements, arguments, items; the paths of a branch are bodies
                yield from (item if isinstance(item, tuple) else (item,))
        elif value is not None and not isinstance(value, (str, int, float, Span)):
            yield value


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _unquote(literal: str) -> str:
    """A string literal's value; only simple escapes, nothing is evaluated."""
    body = literal[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
