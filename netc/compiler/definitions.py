"""Checks on the file's definitions as a whole, before any model is expanded.

Duplicate names, parameter lists, and cycles among blocks are found here once,
however often a block is called (and even when it is never called).
"""
from __future__ import annotations

from netc import diagnostics as dg
from netc.catalog import LAYERS
from netc.compiler import nodes as n
from netc.compiler.check import unknown_argument
from netc.compiler.expand import PARAM_TYPES, unknown_callable
from netc.diagnostics import Diagnostic

# kinds that share one namespace: a model and a block of one name would make calls ambiguous
_CALLABLE = ("model", "block")


def check_definitions(module: n.Module) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    found += _duplicates(module)
    found += [dg.make("NC105", f"block '{b.name}' has the name of the Keras layer {b.name}, which it would hide",
                      b.name_span, module.file, "rename the block; by convention blocks are lower-case")
              for b in module.of_kind("block") if b.name in LAYERS]
    for definition in module.definitions:
        found += _param_list(module.file, getattr(definition, "params", ()))
    found += _block_cycles(module)
    found += _names_in_every_body(module)
    return found


def _duplicates(module: n.Module) -> list[Diagnostic]:
    found, seen = [], {}
    for definition in module.definitions:
        namespace = "callable" if definition.kind in _CALLABLE else definition.kind
        key = (namespace, definition.name)
        if key in seen:
            first = seen[key]
            found.append(dg.make("NC105", f"{definition.kind} '{definition.name}' is already defined as a "
                                          f"{first.kind} on line {first.name_span.line}",
                                 definition.name_span, module.file, "rename one of them"))
        else:
            seen[key] = definition
    return found


def _param_list(file: str, params: tuple[n.Param, ...]) -> list[Diagnostic]:
    found, seen = [], set()
    for param in params:
        if param.name in seen:
            found.append(dg.make("NC105", f"parameter '{param.name}' is declared twice", param.span, file,
                                 "rename or remove one"))
        seen.add(param.name)
        if param.type is not None and param.type not in PARAM_TYPES:
            guess = dg.did_you_mean(param.type, PARAM_TYPES)
            found.append(dg.make("NC201", f"unknown parameter type '{param.type}'"
                                 + (f"; did you mean '{guess}'?" if guess else ""), param.type_span or param.span,
                                 file, "types are: " + ", ".join(PARAM_TYPES)))
    return found


def block_calls(body: tuple[n.Stmt, ...]):
    """Every call statement in a body, nested bodies included (iteratively)."""
    stack = list(body)
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, n.LayerStmt):
            yield stmt.call
        elif isinstance(stmt, n.BranchStmt):
            for path in stmt.paths:
                stack.extend(path)
        elif isinstance(stmt, n.ResidualStmt):
            stack.extend(stmt.body)
            stack.extend(stmt.shortcut or ())
        elif isinstance(stmt, n.RepeatStmt):
            stack.extend(stmt.body)
        elif isinstance(stmt, n.IfStmt):
            stack.extend(stmt.then_body)
            stack.extend(stmt.else_body or ())


def _block_cycles(module: n.Module) -> list[Diagnostic]:
    blocks = {b.name: b for b in module.of_kind("block")}
    calls = {name: [c for c in block_calls(b.body) if c.func in blocks] for name, b in blocks.items()}
    found, reported = [], set()
    for start in blocks:
        # depth-first search with an explicit stack: (block, path so far)
        stack = [(start, (start,))]
        while stack:
            name, path = stack.pop()
            for call in calls[name]:
                if call.func == start:
                    cycle = path + (start,)
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        found.append(dg.make("NC106", "blocks call each other in a cycle: " + " -> ".join(cycle),
                                             call.func_span, module.file,
                                             "blocks are inlined at compile time; use 'repeat' for repetition"))
                elif call.func not in path:
                    stack.append((call.func, path + (call.func,)))
    return found


def _names_in_every_body(module: n.Module) -> list[Diagnostic]:
    """Names in every statement of every model and block, branches not taken included.

    Expansion checks only what the default parameters reach; a search (or a
    caller) may take the other branch of an ``if`` or call a block no model
    calls yet. Without values there are no shapes, so only names are checked:
    unknown layers and blocks, and keyword arguments a layer does not take.
    The diagnostics equal expansion's own, so the pipeline's de-duplication
    keeps one of each.
    """
    blocks = {b.name: b for b in module.of_kind("block")}
    found = []
    for definition in module.of_kind("model") + module.of_kind("block"):
        for call in block_calls(definition.body):
            spec = LAYERS.get(call.func)
            if spec is None and call.func not in blocks:
                found.append(unknown_callable(call, blocks, module.file))
            for arg in call.args if spec is not None else ():
                if arg.name is not None and arg.name not in spec.arg_index:
                    message, hint = unknown_argument(spec, arg.name)
                    found.append(dg.make("NC102", message, arg.name_span or arg.span, module.file, hint))
    return found
