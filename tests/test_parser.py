"""Stage 1: parsing, recovery, limits and the typed tree."""
from __future__ import annotations

import dataclasses
import random
import re
from pathlib import Path

import pytest

from netc.compiler import nodes as n
from netc.compiler.parser import MAX_TREE_DEPTH, parse
from netc.compiler.pipeline import parse_literal

LANGUAGE = Path(__file__).resolve().parents[2] / "shared" / "LANGUAGE.md"


def language_examples() -> list[str]:
    if not LANGUAGE.exists():
        pytest.skip("shared/LANGUAGE.md is not beside the checkout")
    return re.findall(r"```\n(.*?)```", LANGUAGE.read_text(encoding="utf-8"), re.S)


def as_module(example: str) -> str:
    """Section 4's residual and branch fragments are statements: wrap them in a model."""
    if example.lstrip().startswith(("residual", "branch")):
        return "model Fragment {\n input x: (8, 8, 128)\n" + example + "\n}\n"
    return example


def test_every_language_example_parses_without_diagnostics():
    examples = language_examples()
    assert len(examples) >= 6
    for example in examples:
        module, diagnostics = parse(as_module(example))
        assert diagnostics == [], example
        assert module.definitions


def walk(value):
    """Every dataclass node and value reachable from ``value``."""
    stack = [value]
    while stack:
        item = stack.pop()
        yield item
        if dataclasses.is_dataclass(item):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, (tuple, list)):
            stack.extend(item)


def test_tree_holds_only_netc_nodes_and_plain_values():
    for example in language_examples():
        module, _ = parse(as_module(example))
        for item in walk(module):
            assert type(item).__module__.split(".")[0] != "lark", type(item)
            assert isinstance(item, (n.Module, n.Definition, n.Stmt, n.Expr, n.Argument, n.Param, n.Setting,
                                     n.Label, tuple, list, str, int, float, bool, type(None))) \
                or type(item).__name__ == "Span", type(item)


def test_statements_stack_on_one_line_and_comments_are_ignored():
    module, diagnostics = parse('model M { input x: (4,) Dense(8) Dense(2)  # two layers\n }')
    assert diagnostics == []
    (model,) = module.definitions
    assert [type(s).__name__ for s in model.body] == ["InputStmt", "LayerStmt", "LayerStmt"]


def test_spans_point_at_tokens():
    module, _ = parse('model M {\n    input x: (4,)\n    Dense(8, activation="relu") as h\n}')
    stmt = module.definitions[0].body[1]
    assert (stmt.call.func_span.line, stmt.call.func_span.column, stmt.call.func_span.end_column) == (3, 5, 10)
    keyword = stmt.call.args[1]
    assert (keyword.name_span.column, keyword.name_span.end_column) == (14, 24)
    assert (stmt.label.name, stmt.label.span.column) == ("h", 36)


def test_every_syntax_error_of_a_file_is_reported():
    text = "model A {\n input x: (4,)\n Dense(8 activation=1)\n}\nmodel B {\n input y: (4,)\n Dense(2,, 3)\n}\n"
    module, diagnostics = parse(text)
    assert [d.line for d in diagnostics] == [3, 7]
    assert all(d.code == "NC001" for d in diagnostics)
    assert [m.name for m in module.definitions] == ["A", "B"]  # both still reach the checks


def test_missing_closers_are_named():
    _, diagnostics = parse("model A {\n input x: (4,)\n Dense(8\n Dense(2)\n}")
    assert diagnostics[0].message == "')' is missing before name 'Dense'"
    _, diagnostics = parse("model A {\n input x: (4,)\n Dense(8)\n")
    assert diagnostics[-1].code == "NC003"


def test_unknown_characters_and_settings():
    _, diagnostics = parse("model A { input x: (4,) Dense(8) $ }")
    assert diagnostics[0].code == "NC002" and diagnostics[0].column == 34
    _, diagnostics = parse("train A { epoch 3 }")
    assert diagnostics[0].code == "NC207" and "did you mean 'epochs'" in diagnostics[0].message


@pytest.mark.parametrize("opener,closer", [("(", ")"), ("[", "]"), ("-(", ")")])
def test_five_thousand_nested_brackets_give_a_diagnostic_not_a_recursion_error(opener, closer):
    text = "model M { input x: (4,) Dense(" + opener * 5000 + "4" + closer * 5000 + ") }"
    module, diagnostics = parse(text)
    assert [d.code for d in diagnostics] == ["NC004"]
    assert str(MAX_TREE_DEPTH) in diagnostics[0].message


def test_long_flat_expressions_are_fine():
    text = "model M { input x: (4,) Dense(" + " + ".join(["1"] * 150) + ") }"
    _, diagnostics = parse(text)
    assert diagnostics == []


def test_directives_parse_into_settings():
    module, diagnostics = parse("search T {\n width = choice(1, 2)\n objective val_accuracy maximize\n"
                                " trials 4\n}\nensemble E { members T.top(2), GradientBoosting(max_iter=3) }")
    assert diagnostics == []
    search, ensemble = module.definitions
    assert [(s.key, s.is_binding, s.direction) for s in search.settings] == [
        ("width", True, None), ("objective", False, "maximize"), ("trials", False, None)]
    top = ensemble.settings[0].values[0]
    assert (top.receiver, top.func) == ("T", "top")


@pytest.mark.parametrize("text,value", [("64", 64), ("1e-3", 1e-3), ("true", True), ("none", None),
                                        ('"relu"', "relu"), ("(3, 3)", (3, 3)), ("[1, 2]", [1, 2]),
                                        ("-2", -2), ("2 * 8", 16)])
def test_parse_literal(text, value):
    assert parse_literal(text) == (value, True)


@pytest.mark.parametrize("text", ["", "import os", "1 +", "__import__('os')"])
def test_parse_literal_rejects(text):
    assert parse_literal(text)[1] is False


def _both_loops(text: str, file: str = "x.net"):
    """(nodes, diagnostics) from the lean loop and from Lark's own loop, each with the same error recovery."""
    from netc.compiler import lalr
    from netc.compiler import parser as p

    results = []
    for run in (lambda r: lalr.parse(p._lark(), text, r.on_error), lambda r: p._lark().parse(text, on_error=r.on_error)):
        recovery = p._Recovery(file, text)
        p._state.file, p._state.diagnostics, p._state.too_deep = file, recovery.diagnostics, None
        try:
            module = run(recovery)
        except Exception as e:  # noqa: BLE001 - recovery gave up: both loops must give up alike
            module = type(e).__name__
        results.append((module, [(d.code, d.line, d.column, d.message) for d in recovery.diagnostics]))
    return results


def test_the_lean_loop_builds_what_larks_loop_builds():
    """The lean loop parses until the first error, then hands over to Lark's: the same nodes and errors."""
    from conftest import all_spec_files

    texts = [path.read_text(encoding="utf-8") for path in all_spec_files()]
    broken = [text.replace(")", "", 1) for text in texts[:8]] + [text[: len(text) // 2] for text in texts[:8]]
    broken += ["model M { input x: (4,) Dense(3,, 4) }", "model M { input x: (4,) Dense(3) $ }",
               "model M { input x: (4,) Dense(3 }\nmodel N {", "", "}", "model"]
    rng = random.Random(0)
    for text in texts[:12]:  # random damage: a character dropped, or one of the language's inserted
        for _ in range(6):
            at = rng.randrange(len(text) + 1)
            broken.append(text[:at] + rng.choice("(){}[],=<-$\"#x1 \n") + text[at:])
            broken.append(text[:at] + text[at + 1:])
    for text in texts + broken:
        lean, lark = _both_loops(text)
        assert lean == lark, text[:200]
