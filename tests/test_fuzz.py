"""No input makes netc raise: check_string always answers with diagnostics.

Three generators, several thousand cases in all: token soup from the
grammar's vocabulary, structurally valid specs with random layers and
arguments, and random mutations of the project's real specs. An ``NC000``
diagnostic (netc caught its own bug) fails the test as surely as an exception.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netc
from conftest import all_spec_files
from netc.catalog import LAYERS

EXAMPLES = int(os.environ.get("NETC_FUZZ_EXAMPLES", "1500"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KEYWORDS = ["model", "block", "train", "search", "ensemble", "input", "from", "output", "as", "repeat", "in",
            "if", "else", "residual", "shortcut", "branch", "path", "data_format", "channels", "true", "false",
            "none", "and", "or", "not", "data", "epochs", "objective", "maximize", "members", "weights"]
PUNCTUATION = ["{", "}", "(", ")", "[", "]", ",", ":", "=", "<-", ".", "+", "-", "*", "/", "//", "%", "==",
               "<", ">=", "!=", "#", "\n", '"', "$", "@"]
NAMES = ["x", "y", "a", "width", "depth", "sep_bn", "Tunable", "channels_first", "relu", "M"] + sorted(LAYERS)[:40]
NUMBERS = ["0", "1", "3", "64", "-1", "1e-3", "0.5", "99999999999999999999", "1.001e-5"]
STRINGS = ['"relu"', '"same"', '"valid"', '"softmax"', '"x\\"y"', '""']

token = st.sampled_from(KEYWORDS + PUNCTUATION + NAMES + NUMBERS + STRINGS)


def assert_answers(text: str) -> None:
    diagnostics = netc.check_string(text)
    assert isinstance(diagnostics, list)
    for d in diagnostics:
        assert isinstance(d, netc.Diagnostic)
        assert d.code != "NC000", (d.message, text)
        assert d.line >= 1 and d.column >= 1


@FUZZ
@given(st.lists(token, max_size=60))
def test_token_soup(tokens):
    assert_answers(" ".join(tokens))


# -- structurally valid specs with random layers and argument values ----------------

value = st.recursive(
    st.one_of(st.integers(-3, 70), st.sampled_from(["1e-3", "0.5"]), st.sampled_from(STRINGS),
              st.sampled_from(["true", "false", "none", "channels", "width", "depth", "undefined"])).map(str),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: "(" + ", ".join(xs) + ",)"),
        st.tuples(inner, st.sampled_from(["+", "-", "*", "//", "/", "%", "==", "<"]), inner)
        .map(lambda t: " ".join(t))),
    max_leaves=4)
argument = st.one_of(value, st.tuples(st.sampled_from(["units", "filters", "kernel_size", "strides", "padding",
                                                       "activation", "axis", "use_bias", "rate", "bogus"]),
                                      value).map(lambda kv: f"{kv[0]}={kv[1]}"))
layer_call = st.tuples(st.sampled_from(sorted(LAYERS) + ["sep_bn", "Nope"]),
                       st.lists(argument, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})")


def statements(depth: int):
    simple = st.one_of(layer_call, layer_call.map(lambda c: c + " as a"), st.just("from a"),
                       st.just("from x"), layer_call.map(lambda c: c + " <- x, a"))
    if depth == 0:
        return simple
    body = st.lists(statements(depth - 1), max_size=3).map(lambda ss: "{ " + " ".join(ss) + " }")
    return st.one_of(
        simple,
        st.tuples(value, body).map(lambda t: f"repeat {t[0]} {t[1]}"),
        st.tuples(value, body, body).map(lambda t: f"if {t[0]} {t[1]} else {t[2]}"),
        st.tuples(body, body).map(lambda t: f"residual {t[0]} shortcut {t[1]}"),
        st.tuples(layer_call, st.lists(body, max_size=3)).map(
            lambda t: f"branch {t[0]} {{ " + " ".join("path " + b for b in t[1]) + " }"),
    )


shape = st.lists(st.sampled_from(["none", "1", "3", "8", "16", "0"]), min_size=1, max_size=4).map(
    lambda dims: "(" + ", ".join(dims) + ",)")
spec = st.tuples(shape, st.sampled_from(["", "data_format channels_first", "data_format channels_last"]),
                 st.lists(statements(2), max_size=8)).map(
    lambda t: "block sep_bn(filters: int = 8) { SeparableConv2D(filters, 3, padding=\"same\") "
              "BatchNormalization() }\n"
              f"model M(width: int = 8, depth: int = 2) {{\n {t[1]}\n input x: {t[0]}\n " + "\n ".join(t[2]) + "\n}")


@FUZZ
@given(spec)
def test_random_well_formed_specs(text):
    assert_answers(text)


# -- mutations of real specs ---------------------------------------------------------

SOURCES = [p.read_text(encoding="utf-8") for p in all_spec_files()] or ["model M { input x: (4,) Dense(2) }"]


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = min(len(text), i + draw(st.integers(0, 12)))
        op = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(token) + text[i:]
        elif op == "replace":
            text = text[:i] + draw(st.text(max_size=4)) + text[j:]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


@FUZZ
@given(mutated())
def test_mutated_real_specs(text):
    assert_answers(text)


@settings(max_examples=max(EXAMPLES // 5, 50), deadline=None, derandomize=True)
@given(st.text(max_size=300))
def test_arbitrary_text(text):
    assert_answers(text)
