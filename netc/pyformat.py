"""Python source laid out as ``ruff format`` (and black) lay it out, for the code netc writes.

The emitters build each statement as a small tree: plain text, and bracket
pairs whose items are separated by commas. A statement that fits in 88
columns stays on one line. Otherwise it is split at its right-most bracket
whose opening line fits (the "right-hand split"): the items go on their own
indented line if they fit there together, else one per line with a trailing
comma, each split again the same way. That is the subset of ruff's layout
that calls, tuples, lists and ``def`` lines need; the tests check the result
against ``ruff format``.
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass, field

LINE_LENGTH = 88
INDENT = "    "


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Bracket:
    """``open item, item close``; ``one_tuple`` writes the comma of ``(x,)``."""

    open: str
    items: tuple
    close: str
    one_tuple: bool = False


@dataclass(frozen=True)
class Seq:
    parts: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class Ops:
    """``a + b - c``: operands joined by operators of one split priority (ruff splits before each)."""

    operands: tuple
    operators: tuple


Doc = Text | Bracket | Seq | Ops


def seq(*parts) -> Seq:
    """A sequence of docs and strings, nested sequences flattened."""
    out: list = []
    for part in parts:
        if isinstance(part, str):
            part = Text(part)
        if isinstance(part, Seq):
            out.extend(part.parts)
        else:
            out.append(part)
    merged: list = []
    for part in out:  # adjacent texts become one, so the parts alternate text / bracket
        if merged and isinstance(part, Text) and isinstance(merged[-1], Text):
            merged[-1] = Text(merged[-1].text + part.text)
        else:
            merged.append(part)
    return Seq(tuple(merged))


def call(func: str, args) -> Seq:
    """``func(args)``; an argument may be a doc or a string."""
    return seq(func, Bracket("(", tuple(Text(a) if isinstance(a, str) else a for a in args), ")"))


def flat(doc) -> str:
    if isinstance(doc, Text):
        return doc.text
    if isinstance(doc, Seq):
        return "".join(flat(p) for p in doc.parts)
    if isinstance(doc, Ops):
        return flat(doc.operands[0]) + "".join(f" {op} {flat(d)}" for op, d in zip(doc.operators, doc.operands[1:]))
    inner = ", ".join(flat(i) for i in doc.items)
    return doc.open + inner + ("," if doc.one_tuple else "") + doc.close


def _parts(doc) -> list:
    return list(doc.parts) if isinstance(doc, Seq) else [doc]


def lines(doc, depth: int = 0) -> list[str]:
    """The statement ``doc`` at indentation ``depth``, as ruff lays it out."""
    return _split(_parts(seq(doc)), len(INDENT) * depth)


def _split(parts: list, indent: int, inside: bool = False) -> list[str]:
    pad = " " * indent
    text = "".join(flat(p) for p in parts)
    if indent + len(text) <= LINE_LENGTH:
        return [pad + text]
    operations = [i for i, p in enumerate(parts) if isinstance(p, Ops)]
    if inside and len(operations) == 1:  # inside brackets, a line splits before its operators first
        i = operations[0]
        ops = parts[i]
        out: list[str] = []
        last = len(ops.operands) - 1
        for k, operand in enumerate(ops.operands):
            chunk = (parts[:i] if k == 0 else [Text(ops.operators[k - 1] + " ")]) + _parts(operand)
            out += _split(_parts(seq(*chunk, *(parts[i + 1:] if k == last else ()))), indent, inside=True)
        return out
    candidates = [i for i, p in enumerate(parts) if isinstance(p, Bracket) and p.items]
    if not candidates:
        return [pad + text]
    chosen = None
    for i in reversed(candidates):
        head = "".join(flat(p) for p in parts[:i]) + parts[i].open
        if indent + len(head) <= LINE_LENGTH:
            chosen = i
            break
        if indent + len("".join(flat(p) for p in parts[i:])) > LINE_LENGTH:
            break  # a trailer this long is never kept on the closing line
    if chosen is None:
        chosen = candidates[-1]
    bracket = parts[chosen]
    head = _split(parts[:chosen] + [Text(bracket.open)], indent)
    body = _body(bracket, indent + len(INDENT), explode=not _is_trailer(parts, chosen))
    tail = _split([Text(bracket.close)] + parts[chosen + 1:], indent)
    return head + body + tail


def _is_trailer(parts: list, i: int) -> bool:
    """Whether the bracket ``parts[i]`` holds a call's arguments (or a def's parameters), not a literal."""
    if i == 0 or parts[i].open != "(":
        return False
    before = flat(parts[i - 1])
    return bool(before) and (before[-1].isalnum() or before[-1] in "_)]")


def _body(bracket: Bracket, indent: int, explode: bool) -> list[str]:
    """The items of a split bracket; a tuple, list or dict of several items always gets one line per item."""
    items = list(bracket.items)
    if len(items) == 1 and not bracket.one_tuple:
        return _split(_parts(items[0]), indent, inside=True)
    together = ", ".join(flat(i) for i in items) + ("," if bracket.one_tuple else "")
    if indent + len(together) <= LINE_LENGTH and not (explode and len(items) > 1):
        return [" " * indent + together]
    out: list[str] = []
    for item in items:
        out += _split(_parts(seq(item, ",")), indent, inside=True)
    return out


# ---- literals -------------------------------------------------------------

def string(value: str) -> str:
    """A string literal as ruff writes it: double quotes unless single quotes need fewer escapes."""
    text = repr(value)
    inner = text[1:-1] if text[0] == '"' else text[1:-1].replace("\\'", "'")  # now no quote is escaped
    if value.count('"') > value.count("'"):
        return "'" + inner.replace("'", "\\'") + "'"
    return '"' + inner.replace('"', '\\"') + '"'


def number(value) -> str:
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f'float("{value}")'
        return repr(value)
    return repr(value)


def literal(value) -> str:
    """A Python literal for plain data: None, bools, numbers, strings, tuples and lists."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, str):
        return string(value)
    return flat(literal_doc(value))


def literal_doc(value) -> Text | Bracket:
    if isinstance(value, tuple):
        if not value:
            return Text("()")
        return Bracket("(", tuple(literal_doc(v) for v in value), ")", one_tuple=len(value) == 1)
    if isinstance(value, list):
        return Bracket("[", tuple(literal_doc(v) for v in value), "]")
    return Text(literal(value))


def identifier(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """``name`` as a Python identifier that is no keyword and not in ``taken`` (a ``_`` appended)."""
    py = name
    while keyword.iskeyword(py) or keyword.issoftkeyword(py) or py in taken:
        py += "_"
    return py
