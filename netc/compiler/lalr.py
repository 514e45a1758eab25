"""A lean driver for Lark's LALR tables, for specs without syntax errors.

Lark's own parser loop is general: it hashes a ``Rule`` object and checks an
assertion on every reduction. Specs are parsed on every keystroke, so this
module runs the same tables and the same callbacks (the grammar's Transformer)
from a table flattened once per grammar: each reduction is a tuple lookup.
At a syntax error, Lark's error-recovery protocol takes over (``on_error``
with Lark's exception and interactive parser, as in ``Lark.parse``), then
the lean loop goes on from the mended state. ``tests/test_parser.py`` checks
that it builds the very same nodes and errors as Lark's own loop.
"""
from __future__ import annotations

from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.parsers.lalr_analysis import Shift

_FLAT: dict[int, tuple] = {}  # id(Lark instance) -> its flattened table


def _flatten(conf) -> dict:
    """{state: {symbol: (True, next state) | (False, (size, callback, rule name))}} with plain-str keys."""
    reductions: dict[Any, tuple] = {}
    table = {}
    for state, actions in conf.states.items():
        row = {}
        for symbol, (action, arg) in actions.items():
            if action is Shift:
                row[str(symbol)] = (True, arg)
            else:
                reduction = reductions.get(arg)
                if reduction is None:
                    reduction = reductions[arg] = (len(arg.expansion), conf.callbacks[arg], str(arg.origin.name))
                row[str(symbol)] = (False, reduction)
        table[state] = row
    return table


def parse(lark: Lark, text: str, on_error) -> Any:
    """Parse ``text`` as ``lark.parse(text, on_error=on_error)`` does, with the lean loop up to the first error.

    At a syntax error, Lark's own loop takes over from the very same parser state, with the error
    recovery of ``on_error``: the text before the error is not parsed twice.
    """
    interactive = lark.parse_interactive(text)
    table = _table(lark, interactive.parser_state.parse_conf)
    try:
        return _lean(table, interactive)
    except UnexpectedInput as e:
        return _recover(e, on_error, table, interactive)


def _table(lark: Lark, conf) -> dict:
    flat = _FLAT.get(id(lark))
    if flat is None or flat[0] is not conf.parse_table:
        flat = _FLAT[id(lark)] = (conf.parse_table, _flatten(conf))
    return flat[1]


def _lean(table: dict, interactive) -> Any:
    parser_state = interactive.parser_state
    states, values = parser_state.state_stack, parser_state.value_stack
    token = interactive.lexer_thread.state.last_token  # after a recovery, the end borrows its position
    for token in interactive.lexer_thread.lex(parser_state):
        kind = token.type
        while True:  # reduce as the table says, then shift the token: this runs for every token
            action = table[states[-1]].get(kind)
            if action is None:
                raise _unexpected(token, parser_state)
            if action[0]:
                states.append(action[1])
                values.append(token)
                break
            size, callback, name = action[1]
            if size:
                children = values[-size:]
                del states[-size:]
                del values[-size:]
            else:
                children = []
            values.append(callback(children))
            states.append(table[states[-1]][name][1])
    end = Token.new_borrow_pos("$END", "", token) if token is not None else Token("$END", "", 0, 1, 1)
    if not _finish(table, states, values, parser_state.parse_conf.end_state):
        raise _unexpected(end, parser_state)
    return values[-1]


def _unexpected(token: Token, parser_state) -> UnexpectedToken:
    """The error Lark's loop raises for a token its table has no action for in this state."""
    expected = {s for s in parser_state.parse_conf.states[parser_state.position] if s.isupper()}
    return UnexpectedToken(token, expected, state=parser_state, interactive_parser=None)


def _recover(e: UnexpectedInput, on_error, table: dict, interactive) -> Any:
    """Lark's recovery loop (``LALR_Parser.parse``): ``on_error`` mends the parser state, then parsing goes on
    (in the lean loop, until the next error)."""
    while True:
        e.interactive_parser = interactive
        if isinstance(e, UnexpectedCharacters):
            lexer_state = interactive.lexer_thread.state
            position = lexer_state.line_ctr.char_pos
        if not on_error(e):
            raise e
        if isinstance(e, UnexpectedCharacters) and position == lexer_state.line_ctr.char_pos:
            lexer_state.line_ctr.feed(lexer_state.text.text[position:position + 1])  # skip the character
        try:
            return _lean(table, interactive)
        except UnexpectedToken as again:
            if isinstance(e, UnexpectedToken) and e.token.type == again.token.type == "$END":
                again.interactive_parser = interactive
                raise again from None  # the end of the input, twice: nothing more can be mended
            e = again
        except UnexpectedCharacters as again:
            e = again


def _finish(table: dict, states: list, values: list, end_state) -> bool:
    """At the end of the input: reduce until the end state (the end itself is never shifted)."""
    while states[-1] != end_state:
        action = table[states[-1]].get("$END")
        if action is None or action[0]:
            return False
        size, callback, name = action[1]
        children = values[-size:] if size else []
        if size:
            del states[-size:]
            del values[-size:]
        values.append(callback(children))
        states.append(table[states[-1]][name][1])
    return True
