"""Stage 1: source text -> ``nodes.Module`` plus syntax diagnostics.

Lark (LALR, positions on) parses with the grammar in ``netc/grammar/netc.lark``;
one Transformer turns the parse tree into frozen nodes. The parser recovers
from syntax errors (dropping the offending token, closing what the end of file
left open) so that one run reports every error it can, and the parts that
parse still reach the semantic checks. Limits on size and nesting turn
pathological input into a diagnostic instead of a RecursionError.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from netc import diagnostics as dg
from netc.compiler import nodes as n
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
    return Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                propagate_positions=True, maybe_placeholders=True, cache=True)


def parse(text: str, file: str = "<string>") -> tuple[n.Module, list[Diagnostic]]:
    """Parse a whole spec. Never raises: problems come back as diagnostics."""
    if len(text) > MAX_SOURCE_CHARS:
        return n.Module(file, ()), [dg.make(
            "NC004", f"the spec is {len(text):,} characters long; netc reads at most {MAX_SOURCE_CHARS:,}",
            Span.point(), file, hint="split the spec into several files")]
    recovery = _Recovery(file, text)
    try:
        tree = _lark().parse(text, on_error=recovery.on_error)
    except UnexpectedInput as e:  # recovery gave up; report it unless it is a repeat
        recovery.record(e)
        return n.Module(file, ()), recovery.diagnostics
    diagnostics = recovery.diagnostics
    kept = []
    for item in tree.children:  # a definition nested too deeply is dropped; the others are still checked
        too_deep = _depth_violation(item) if isinstance(item, Tree) else None
        if too_deep is None:
            kept.append(item)
        else:
            diagnostics.append(dg.make("NC004", f"the spec nests more than {MAX_TREE_DEPTH} levels deep here",
                                       too_deep, file, "flatten the expression or split it into parameters"))
    tree.children = kept
    return _ToNodes(file).transform(tree), diagnostics


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
                    parser.feed_token(Token(closer, _display(closer)))
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
            trial.feed_token(Token(closer, _display(closer)))
            closers.append(closer)

    def _close_at_end(self, e: UnexpectedToken) -> bool:
        """At the end of the file, close everything still open in one go, so the tree is whole."""
        parser = e.interactive_parser
        missing = []
        while not _can_end(parser) and len(missing) < MAX_TREE_DEPTH:
            closer = next((c for c in _CLOSERS if c in parser.accepts()), None)
            if closer is None:
                break
            parser.feed_token(Token(closer, _display(closer)))
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


def _expected_hint(expected: list[str]) -> str | None:
    words = [_TOKEN_WORDS.get(t) or f"'{_display(t)}'" for t in expected]
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


def _depth_violation(tree: Tree) -> Span | None:
    """The first place the tree is deeper than the limit, found without recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            meta = node.meta
            line = getattr(meta, "line", 1)
            column = getattr(meta, "column", 1)
            return Span(line, column, line, column + 1)
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, depth + 1))
    return None


# ---- the Transformer -----------------------------------------------------

def _span(meta) -> Span:
    if getattr(meta, "empty", True):
        return Span.point()
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _present(children) -> list:
    return [c for c in children if c is not None]


def _label(token: Token | None) -> n.Label | None:
    return None if token is None else n.Label(str(token), _token_span(token))


@v_args(meta=True)
class _ToNodes(Transformer):
    """Turns Lark's tree into ``nodes``; the only place a lark.Tree is read."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    # -- definitions
    def start(self, meta, children):
        return n.Module(self.file, tuple(_present(children)))

    def model_def(self, meta, children):
        name, params, body = children
        return n.ModelDef("model", str(name), _token_span(name), _span(meta), params or (), body)

    def block_def(self, meta, children):
        name, params, body = children
        return n.BlockDef("block", str(name), _token_span(name), _span(meta), params or (), body)

    def train_def(self, meta, children):
        name, params, *settings = children
        return n.DirectiveDef("train", str(name), _token_span(name), _span(meta), params or (), tuple(settings))

    def search_def(self, meta, children):
        name, *settings = children
        return n.DirectiveDef("search", str(name), _token_span(name), _span(meta), (), tuple(settings))

    def ensemble_def(self, meta, children):
        name, *settings = children
        return n.DirectiveDef("ensemble", str(name), _token_span(name), _span(meta), (), tuple(settings))

    def param_list(self, meta, children):
        return tuple(_present(children))

    def param(self, meta, children):
        name, type_token, default = children
        return n.Param(str(name), None if type_token is None else str(type_token), default, _span(meta),
                       None if type_token is None else _token_span(type_token))

    # -- directive settings
    def train_setting(self, meta, children):
        key, value = children
        return n.Setting(str(key), _token_span(key), (value,), None, _span(meta))

    def search_binding(self, meta, children):
        key, value = children
        return n.Setting(str(key), _token_span(key), (value,), None, _span(meta), is_binding=True)

    def search_setting(self, meta, children):
        key, value, direction = children
        return n.Setting(str(key), _token_span(key), (value,), None if direction is None else str(direction),
                         _span(meta))

    ensemble_setting = search_setting

    def ensemble_members(self, meta, children):
        span = _span(meta)
        key_span = Span(span.line, span.column, span.line, span.column + len("members"))
        return n.Setting("members", key_span, tuple(children), None, span)

    # -- statements
    def body(self, meta, children):
        return tuple(_present(children))

    def input_stmt(self, meta, children):
        name, shape = children
        return n.InputStmt(_span(meta), str(name), _token_span(name), shape)

    def from_stmt(self, meta, children):
        (name,) = children
        return n.FromStmt(_span(meta), str(name), _token_span(name))

    def output_stmt(self, meta, children):
        return n.OutputStmt(_span(meta), tuple(_label(t) for t in children))

    def data_format_stmt(self, meta, children):
        (value,) = children
        return n.DataFormatStmt(_span(meta), str(value), _token_span(value))

    def layer_stmt(self, meta, children):
        call, merge_inputs, label = children
        return n.LayerStmt(_span(meta), call, merge_inputs, label)

    def merge_inputs(self, meta, children):
        return tuple(_label(t) for t in children)

    def label(self, meta, children):
        return _label(children[0])

    def repeat_stmt(self, meta, children):
        var, count, body, label = children
        return n.RepeatStmt(_span(meta), _label(var), count, body, label)

    def if_stmt(self, meta, children):
        condition, then_body, else_part = children
        if isinstance(else_part, n.IfStmt):
            else_part = (else_part,)
        return n.IfStmt(_span(meta), condition, then_body, else_part)

    def residual_stmt(self, meta, children):
        body, shortcut, label = children
        return n.ResidualStmt(_span(meta), body, shortcut, label)

    def shortcut(self, meta, children):
        return children[0]

    def branch_stmt(self, meta, children):
        merge, *paths, label = children
        return n.BranchStmt(_span(meta), merge, tuple(paths), label)

    def path(self, meta, children):
        return children[0]

    # -- calls and arguments
    def call(self, meta, children):
        name, arguments = children
        return n.Call(_span(meta), str(name), _token_span(name), arguments or ())

    call_expr = call

    def method_call(self, meta, children):
        receiver, method, arguments = children
        return n.Call(_span(meta), str(method), _token_span(method), arguments or (),
                      str(receiver), _token_span(receiver))

    def arguments(self, meta, children):
        return tuple(_present(children))

    def positional_arg(self, meta, children):
        return n.Argument(None, children[0], _span(meta))

    def keyword_arg(self, meta, children):
        name, value = children
        return n.Argument(str(name), value, _span(meta), _token_span(name))

    # -- expressions
    def _fold(self, meta, children):
        """Left-associative chains like ``a + b - c``: [a, op, b, op, c]."""
        result = children[0]
        for i in range(1, len(children), 2):
            right = children[i + 1]
            result = n.BinOp(result.span.to(right.span), str(children[i]), result, right)
        return result

    sum = _fold
    product = _fold
    comparison = _fold

    def or_expr(self, meta, children):
        return self._fold_keyword("or", children)

    def and_expr(self, meta, children):
        return self._fold_keyword("and", children)

    def _fold_keyword(self, op, children):
        result = children[0]
        for right in children[1:]:
            result = n.BinOp(result.span.to(right.span), op, result, right)
        return result

    def not_op(self, meta, children):
        return n.UnaryOp(_span(meta), "not", children[0])

    def neg(self, meta, children):
        return n.UnaryOp(_span(meta), "-", children[0])

    def pos(self, meta, children):
        return n.UnaryOp(_span(meta), "+", children[0])

    def int_lit(self, meta, children):
        return n.Literal(_span(meta), int(children[0]))

    def float_lit(self, meta, children):
        return n.Literal(_span(meta), float(children[0]))

    def string_lit(self, meta, children):
        return n.Literal(_span(meta), _unquote(str(children[0])))

    def true_lit(self, meta, children):
        return n.Literal(_span(meta), True)

    def false_lit(self, meta, children):
        return n.Literal(_span(meta), False)

    def none_lit(self, meta, children):
        return n.Literal(_span(meta), None)

    def channels_lit(self, meta, children):
        return n.ChannelsExpr(_span(meta))

    def name_ref(self, meta, children):
        return n.NameRef(_span(meta), str(children[0]))

    def paren(self, meta, children):
        return children[0]

    def tuple_lit(self, meta, children):
        return n.TupleExpr(_span(meta), tuple(_present(children)))

    def list_lit(self, meta, children):
        return n.ListExpr(_span(meta), tuple(_present(children)))


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
