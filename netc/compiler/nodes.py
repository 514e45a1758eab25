"""The typed tree of a spec: frozen dataclasses, each with its source span.

The parser's Transformer builds these; no ``lark.Tree`` leaves the parser.
Every later stage reads only these nodes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netc.diagnostics import Span


# ---- expressions ---------------------------------------------------------

def _depth():
    """How many nodes deep a node's subtree goes: the parser's limit on nesting reads it."""
    return field(default=1, kw_only=True, compare=False, repr=False)


@dataclass(frozen=True)
class Expr:
    span: Span
    depth: int = _depth()


@dataclass(frozen=True)
class Literal(Expr):
    value: Any  # int | float | str | bool | None


@dataclass(frozen=True)
class ChannelsExpr(Expr):
    pass


@dataclass(frozen=True)
class NameRef(Expr):
    name: str


@dataclass(frozen=True)
class TupleExpr(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class ListExpr(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class BinOp(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnaryOp(Expr):
    op: str  # "-" | "+" | "not"
    operand: Expr


@dataclass(frozen=True)
class Argument:
    name: str | None  # None for a positional argument
    value: Expr
    span: Span  # the whole argument
    name_span: Span | None = None
    depth: int = _depth()


@dataclass(frozen=True)
class Call(Expr):
    func: str
    func_span: Span
    args: tuple[Argument, ...]
    receiver: str | None = None  # ``Tunable`` in ``Tunable.top(5)``
    receiver_span: Span | None = None


# ---- statements ----------------------------------------------------------

@dataclass(frozen=True)
class Stmt:
    span: Span
    depth: int = _depth()


@dataclass(frozen=True)
class Label:
    name: str
    span: Span


@dataclass(frozen=True)
class InputStmt(Stmt):
    name: str
    name_span: Span
    shape: Expr


@dataclass(frozen=True)
class FromStmt(Stmt):
    name: str
    name_span: Span


@dataclass(frozen=True)
class OutputStmt(Stmt):
    names: tuple[Label, ...]


@dataclass(frozen=True)
class DataFormatStmt(Stmt):
    value: str
    value_span: Span


@dataclass(frozen=True)
class LayerStmt(Stmt):
    call: Call
    merge_inputs: tuple[Label, ...] | None
    label: Label | None


@dataclass(frozen=True)
class RepeatStmt(Stmt):
    var: Label | None
    count: Expr
    body: tuple[Stmt, ...]
    label: Label | None


@dataclass(frozen=True)
class IfStmt(Stmt):
    condition: Expr
    then_body: tuple[Stmt, ...]
    else_body: tuple[Stmt, ...] | None


@dataclass(frozen=True)
class ResidualStmt(Stmt):
    body: tuple[Stmt, ...]
    shortcut: tuple[Stmt, ...] | None
    label: Label | None


@dataclass(frozen=True)
class BranchStmt(Stmt):
    merge: Call
    paths: tuple[tuple[Stmt, ...], ...]
    label: Label | None


# ---- definitions ---------------------------------------------------------

@dataclass(frozen=True)
class Param:
    name: str
    type: str | None
    default: Expr | None
    span: Span
    type_span: Span | None = None


@dataclass(frozen=True)
class Setting:
    """One line of a train, search or ensemble directive: ``epochs 30``, ``width = choice(...)``."""

    key: str
    key_span: Span
    values: tuple[Expr, ...]
    direction: str | None  # maximize | minimize, for objectives
    span: Span
    is_binding: bool = False  # ``name = distribution`` in a search


@dataclass(frozen=True)
class Definition:
    kind: str  # model | block | train | search | ensemble
    name: str
    name_span: Span
    span: Span


@dataclass(frozen=True)
class ModelDef(Definition):
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class BlockDef(Definition):
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class DirectiveDef(Definition):
    params: tuple[Param, ...]
    settings: tuple[Setting, ...]


@dataclass(frozen=True)
class Module:
    file: str
    definitions: tuple[Definition, ...]

    def of_kind(self, kind: str) -> list[Definition]:
        return [d for d in self.definitions if d.kind == kind]
