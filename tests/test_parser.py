"""Stage 1: parsing, recovery, limits and the typed tree."""
from __future__ import annotations

import dataclasses
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


def test_the_lean_loop_builds_what_larks_loop_builds():
    """Clean specs take the lean LALR loop; specs with errors take Lark's. Both must give the same nodes."""
    from conftest import all_spec_files

    from netc.compiler import parser as p
    from netc.compiler.lalr import parse_clean

    compared = 0
    for path in all_spec_files():
        text = path.read_text(encoding="utf-8")
        p._state.file, p._state.diagnostics, p._state.too_deep = str(path), [], None
        clean, lean = parse_clean(p._lark(), text)
        if not clean:
            continue
        p._state.diagnostics, p._state.too_deep = [], None
        assert lean == p._lark().parse(text), path
        compared += 1
    assert compared >= 20


def test_a_syntax_error_falls_back_to_the_recovering_loop():
    from netc.compiler import parser as p
    from netc.compiler.lalr import parse_clean

    assert parse_clean(p._lark(), "model M { input x: (4,) Dense(3,, 4) }") == (False, None)
    assert parse_clean(p._lark(), "model M { input x: (4,) Dense(3) $ }") == (False, None)
    module, diagnostics = parse("model M { input x: (4,) Dense(3,, 4) }")
    assert [d.code for d in diagnostics] == ["NC001"] and module.definitions[0].name == "M"
