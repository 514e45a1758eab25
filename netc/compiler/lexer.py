"""The lexer the parser runs on: Lark's contextual lexing, at a third of the cost.

Editors check a spec on every keystroke and lexing was half of Lark's parse
time, so this lexer (plugged into Lark through its custom-lexer interface)
scans with one regular expression and decides each lexeme's terminal the way
Lark's contextual lexer does, but only where there is a choice:

- the terminals come from the grammar: the lexer reads their patterns and
  priorities from Lark's ``LexerConf``, so ``netc.lark`` stays the one
  definition of the language;
- a lexeme is a word (``NAME``'s pattern, longest match), a number, a string,
  or an operator (the longest of one or two characters some terminal matches);
- the terminals a lexeme can be (``data``: ``SETTING_KEY`` or ``NAME``; ``-``:
  ``NEG`` or ``ADD_OP``) are found once per distinct lexeme; when there are
  several, the first the parser accepts in its current state wins, by
  priority and with keywords before ``NAME``, as in Lark; when it accepts none,
  the parser reports the first;
- it keeps Lark's ``LexerState`` up to date, so that Lark's error recovery can
  skip a character or a token and resume lexing where it stopped.
"""
from __future__ import annotations

import re

from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer, PatternStr, Token

_new_str = str.__new__


class SpecLexer(Lexer):
    __future_interface__ = 2  # lex(lexer_state, parser_state): the parser's state decides between terminals

    def __init__(self, conf):
        by_name = {t.name: t for t in conf.terminals}
        ignored = "|".join(by_name[name].pattern.to_regexp() for name in conf.ignore)
        word, number, string = (by_name[name].pattern.to_regexp() for name in ("NAME", "FLOAT", "STRING"))
        integer = by_name["INT"].pattern.to_regexp()
        self._scan = re.compile(
            rf"(?P<skip>{ignored})|(?P<word>{word})|(?P<number>{number}|{integer})|(?P<string>{string})"
            r"|(?P<op>[^\s\w\"'#])").match
        # the order in which a lexeme's terminals are tried: priority, then keywords before patterns
        ordered = sorted((t for t in conf.terminals if t.name not in conf.ignore),
                         key=lambda t: (-t.priority, not isinstance(t.pattern, PatternStr), t.name))
        self._matchers = [(str(t.name), re.compile(t.pattern.to_regexp()).fullmatch) for t in ordered]
        self._kinds: dict[str, tuple[str, ...]] = {}

    def _terminals(self, lexeme: str) -> tuple[str, ...]:
        kinds = self._kinds.get(lexeme)
        if kinds is None:
            kinds = tuple(name for name, fullmatch in self._matchers if fullmatch(lexeme))
            if len(self._kinds) < 100_000:
                self._kinds[lexeme] = kinds
        return kinds

    def lex(self, lexer_state, parser_state):
        text = lexer_state.text.text
        counter = lexer_state.line_ctr
        pos, line, line_start = counter.char_pos, counter.line, counter.line_start_pos
        end = lexer_state.text.end
        scan, kinds_of, terminals = self._scan, self._kinds.get, self._terminals
        states = parser_state.parse_conf.states
        state_stack = parser_state.state_stack
        while pos < end:
            m = scan(text, pos)
            if m is None:
                raise _unmatched(lexer_state, parser_state, pos, line, line_start)
            group = m.lastgroup
            stop = m.end()
            if group == "skip":
                newlines = text.count("\n", pos, stop)
                if newlines:
                    line += newlines
                    line_start = text.rindex("\n", pos, stop) + 1
                pos = stop
                continue
            value = m.group()
            kinds = kinds_of(value) or terminals(value)
            if group == "op":  # an operator of two characters (``<-``, ``//``, ``<=``) where the parser takes it
                pair = text[pos:pos + 2]
                pair_kinds = (kinds_of(pair) or terminals(pair)) if len(pair) == 2 else ()
                if pair_kinds and (not kinds or _accepted(pair_kinds, states[state_stack[-1]]) is not None
                                   or _accepted(kinds, states[state_stack[-1]]) is None):
                    value, kinds, stop = pair, pair_kinds, pos + 2
            if not kinds:
                raise _unmatched(lexer_state, parser_state, pos, line, line_start)
            if len(kinds) == 1:
                kind = kinds[0]
            else:
                kind = _accepted(kinds, states[state_stack[-1]]) or kinds[0]
            column = pos - line_start + 1
            token = _new_str(Token, value)
            token.type = kind
            token.value = value
            token.start_pos = pos
            token.end_pos = stop
            token.line = token.end_line = line
            token.column = column
            token.end_column = column + (stop - pos)
            pos = stop
            counter.char_pos, counter.line, counter.line_start_pos = pos, line, line_start  # _move_to, inlined:
            counter.column = pos - line_start + 1                                           # it runs per token
            lexer_state.last_token = token
            yield token
        _move_to(counter, pos, line, line_start)


def _move_to(counter, pos: int, line: int, line_start: int) -> None:
    """Keep Lark's line counter where lexing is, so its error recovery can skip and resume from there."""
    counter.char_pos, counter.line, counter.line_start_pos = pos, line, line_start
    counter.column = pos - line_start + 1


def _unmatched(lexer_state, parser_state, pos: int, line: int, line_start: int) -> UnexpectedCharacters:
    """Lark's error for a character no terminal matches, with the line counter left at it."""
    _move_to(lexer_state.line_ctr, pos, line, line_start)
    return UnexpectedCharacters(lexer_state.text.text, pos, line, pos - line_start + 1,
                                state=parser_state.position, token_history=None)


def _accepted(kinds: tuple[str, ...], actions: dict) -> str | None:
    for kind in kinds:
        if kind in actions:
            return kind
    return None
