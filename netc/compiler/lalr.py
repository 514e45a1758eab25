"""A lean driver for Lark's LALR tables, for specs without syntax errors.

Lark's own parser loop is general: it hashes a ``Rule`` object and checks an
assertion on every reduction. Specs are parsed on every keystroke, so this
module runs the same tables and the same callbacks (the grammar's Transformer)
from a table flattened once per grammar: each reduction is a tuple lookup.
It stops at the first syntax error and says so (``None``); the parser then
parses the spec again with Lark's loop, whose error recovery reports every
error. Both loops build the very same nodes.
"""
from __future__ import annotations

from typing import Any

from lark import Lark
from lark.exceptions import UnexpectedInput
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


def parse_clean(lark: Lark, text: str) -> tuple[bool, Any]:
    """(True, result) for a spec the grammar accepts; (False, None) at its first syntax error."""
    interactive = lark.parse_interactive(text)
    parser_state = interactive.parser_state
    conf = parser_state.parse_conf
    flat = _FLAT.get(id(lark))
    if flat is None or flat[0] is not conf.parse_table:
        flat = _FLAT[id(lark)] = (conf.parse_table, _flatten(conf))
    table = flat[1]
    states, values = parser_state.state_stack, parser_state.value_stack
    try:
        for token in interactive.lexer_thread.lex(parser_state):
            kind = token.type
            while True:  # reduce as the table says, then shift the token (``_feed``, inlined: it runs per token)
                action = table[states[-1]].get(kind)
                if action is None:
                    return False, None
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
    except UnexpectedInput:  # a character no terminal matches
        return False, None
    if not _finish(table, states, values, conf.end_state):
        return False, None
    return True, values[-1]


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
