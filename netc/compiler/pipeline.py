"""The pipeline: text -> nodes -> graph -> checked graph -> IR -> Keras.

One narrow entry function per stage lives in its module; this module strings
them together for the API, the CLI and the language server. Everything but
``build`` is framework-free.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netc import diagnostics as dg
from netc.compiler import nodes as n
from netc.compiler.check import check
from netc.compiler.definitions import check_definitions
from netc.compiler.directives import check_directives
from netc.compiler.expand import expand
from netc.compiler.graph import Graph
from netc.compiler.ir import to_ir
from netc.compiler.parser import parse
from netc.diagnostics import Diagnostic, Span


@dataclass
class Analysis:
    """Everything the checks learnt about one file."""

    file: str
    module: n.Module
    diagnostics: list[Diagnostic] = field(default_factory=list)
    graphs: dict[str, Graph] = field(default_factory=dict)  # model name -> graph with default parameters


def read_source(path: str | Path) -> tuple[str | None, Diagnostic | None]:
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8"), None
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
        return None, dg.make("NC005", f"cannot read '{path}': {reason}", Span.point(), str(path),
                             "check the path; specs are UTF-8 text files")


@contextmanager
def _without_cyclic_gc():
    """Pause Python's cyclic garbage collector while a spec is analyzed.

    Parsing allocates many small acyclic objects; the collector's repeated full
    scans made checking grow faster than the spec (about 1.7x slower at 10,000
    statements). Reference counting still frees everything; cycles, if any, are
    collected once the collector is back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def analyze(text: str, file: str = "<string>", *, parser=None, expander=None) -> Analysis:
    """Parse and check every model and directive of a file with default parameters.

    ``parser`` and ``expander`` replace ``parse`` and ``expand_and_check`` (same
    signatures, same results): the language server passes incremental ones.
    """
    with _without_cyclic_gc():
        return _analyze(text, file, parser, expander)


def _analyze(text: str, file: str, parser, expander) -> Analysis:
    module, diagnostics = (parser or parse)(text, file)
    analysis = Analysis(file, module, diagnostics)
    analysis.diagnostics += check_definitions(module)
    for model in module.of_kind("model"):
        if any(param.default is None for param in model.params):
            continue  # shapes need values: checked when compiled with them (names are checked above)
        graph, found = (expander or expand_and_check)(module, model, {})
        analysis.graphs[model.name] = graph
        analysis.diagnostics += found
    analysis.diagnostics += check_directives(module, analysis.graphs)
    analysis.diagnostics = _quiet_syntax_lines(_dedupe(analysis.diagnostics))
    return analysis


def expand_and_check(module: n.Module, model: n.ModelDef, params: dict[str, Any]
                     ) -> tuple[Graph, list[Diagnostic]]:
    graph, diagnostics = expand(module, model, params, module.file)
    diagnostics += check(graph)
    if not dg.has_errors(diagnostics):
        diagnostics += _drop_dead_layers(graph)
    return graph, diagnostics


def _drop_dead_layers(graph: Graph) -> list[Diagnostic]:
    """Layers no output depends on are not part of the Keras model: warn, and leave them out of the totals."""
    live = graph.reachable()
    consumed = {i for node in graph.nodes for i in node.inputs}
    warnings = [dg.make("NC109", f"the output of {node.layer} never reaches a model output, so Keras drops it",
                        node.span, graph.file, "use it ('from NAME', '<- NAME', 'output ...') or remove it",
                        severity=dg.WARNING)
                for node in graph.nodes
                if node.id not in live and node.id not in consumed and node.layer not in ("Input", None)]
    graph.nodes = [node for node in graph.nodes if node.id in live or node.layer == "Input"]
    return warnings


def select_model(module: n.Module, name: str | None) -> tuple[n.ModelDef | None, Diagnostic | None]:
    models = module.of_kind("model")
    if name is not None:
        for model in models:
            if model.name == name:
                return model, None
        guess = dg.did_you_mean(name, [m.name for m in models])
        return None, dg.make("NC107", f"no model named '{name}' in {module.file}"
                             + (f"; did you mean '{guess}'?" if guess else ""), Span.point(), module.file,
                             "models here: " + (", ".join(m.name for m in models) or "none"))
    if len(models) == 1:
        return models[0], None
    if not models:
        return None, dg.make("NC107", f"{module.file} defines no model", Span.point(), module.file,
                             "define one with 'model Name { ... }'")
    return None, dg.make("NC107", f"{module.file} defines {len(models)} models; choose one",
                         Span.point(), module.file,
                         "pass model=NAME (--model NAME); models here: " + ", ".join(m.name for m in models))


def model_ir(text: str, file: str, model: str | None, params: dict[str, Any]
             ) -> tuple[dict | None, Graph | None, list[Diagnostic]]:
    """The IR of one model with ``params`` bound, or None and the errors that prevent it.

    Syntax errors anywhere block it (the tree may be incomplete); problems in
    other models of the file do not.
    """
    with _without_cyclic_gc():
        return _model_ir(text, file, model, params)


def _model_ir(text: str, file: str, model: str | None, params: dict[str, Any]
              ) -> tuple[dict | None, Graph | None, list[Diagnostic]]:
    module, diagnostics = parse(text, file)
    diagnostics += check_definitions(module)
    chosen, problem = select_model(module, model)
    if problem is not None:
        return None, None, _dedupe(diagnostics + [problem])
    graph, found = expand_and_check(module, chosen, params)
    diagnostics = _dedupe(diagnostics + found)
    if dg.has_errors(diagnostics):
        return None, graph, diagnostics
    return to_ir(graph), graph, diagnostics


def _quiet_syntax_lines(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """On a line with a syntax error, the other findings are usually its echoes: keep the syntax error."""
    syntax_lines = {d.line for d in diagnostics if d.code in _SYNTAX_CODES}
    return [d for d in diagnostics if d.code in _SYNTAX_CODES or d.line not in syntax_lines]


_SYNTAX_CODES = ("NC001", "NC002", "NC003")


def _dedupe(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Drop repeats (a block called twice reports its problem once) and sort by position."""
    seen, unique = set(), []
    for d in diagnostics:
        key = (d.file, d.line, d.column, d.code, d.message)
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return sorted(unique, key=lambda d: (d.line, d.column))


def safe_analyze(text: str, file: str, **stages) -> Analysis:
    """``analyze`` that never raises: a bug in netc becomes an NC000 diagnostic, not a traceback."""
    try:
        return analyze(text, file, **stages)
    except RecursionError:
        problem = dg.make("NC004", "the spec is nested too deeply for netc to check", Span.point(), file,
                          "flatten deeply nested expressions or blocks")
    except Exception as e:  # noqa: BLE001 - the linter must answer whatever the input
        problem = dg.make("NC000", f"netc failed on this spec: {type(e).__name__}: {e}", Span.point(), file,
                          "please report this spec to netc's issue tracker")
    return Analysis(file, n.Module(file, ()), [problem])


def parse_literal(text: str) -> tuple[Any, bool]:
    """A value written in the spec language (for --param), parsed by the spec grammar, never eval'd."""
    from netc.compiler.evaluate import EvalError, evaluate

    module, diagnostics = parse(f"model _ (_: any = {text}) {{ }}", "<param>")
    models = module.of_kind("model")
    if diagnostics or not models or len(models[0].params) != 1:
        return None, False
    try:
        value = evaluate(models[0].params[0].default, {})
    except EvalError:
        return None, False
    return (value, True) if _is_plain(value) else (None, False)


def _is_plain(value: Any) -> bool:
    """Plain data only: no call, no ``channels``."""
    if isinstance(value, (tuple, list)):
        return all(_is_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))
