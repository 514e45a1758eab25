"""Compile-time evaluation of spec expressions.

Values are plain Python data (int, float, str, bool, None, tuple, list), the
``CHANNELS`` keyword, and ``CallValue`` for a call written as a value (a layer
passed to a wrapper, an optimizer, a loader). Nothing is ever handed to
``eval``; names resolve only against the parameters in scope.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

from netc import diagnostics as dg
from netc.catalog.types import CHANNELS, describe_value, type_name
from netc.compiler import nodes as n
from netc.diagnostics import Diagnostic, Span

MAX_INT = 2 ** 62  # larger numbers are a mistake, and would only slow everything down


@dataclass(frozen=True)
class ArgValue:
    """An evaluated argument, with where it was written."""

    name: str | None
    value: Any
    span: Span  # the value
    name_span: Span | None = None


@dataclass(frozen=True)
class CallValue:
    """A call written as a value, evaluated: ``LSTM(64)`` inside ``Bidirectional(...)``."""

    func: str
    func_span: Span
    args: tuple[ArgValue, ...]
    span: Span
    receiver: str | None = None
    receiver_span: Span | None = None


class EvalError(Exception):
    def __init__(self, code: str, message: str, span: Span, hint: str | None = None):
        super().__init__(message)
        self.code, self.message, self.span, self.hint = code, message, span, hint

    def diagnostic(self, file: str) -> Diagnostic:
        return dg.make(self.code, self.message, self.span, file, self.hint)


_PYTHON_SPELLINGS = {"True": "true", "False": "false", "None": "none"}
_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
               "//": operator.floordiv, "%": operator.mod}
_COMPARISON = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
               ">": operator.gt, ">=": operator.ge}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def evaluate(expr: n.Expr, env: dict[str, Any]) -> Any:
    """The value of ``expr`` with ``env`` binding parameter names; raises EvalError."""
    if isinstance(expr, n.Literal):
        if _is_number(expr.value) and abs(expr.value) > MAX_INT:
            raise EvalError("NC004", f"the number {expr.value:.3g} is too large (netc's limit is {MAX_INT:.3g})",
                            expr.span, "use a smaller value")
        return expr.value
    if isinstance(expr, n.NameRef):
        if expr.name in env:
            return env[expr.name]
        if expr.name in _PYTHON_SPELLINGS:
            spelt = _PYTHON_SPELLINGS[expr.name]
            raise EvalError("NC103", f"unknown name '{expr.name}'; did you mean '{spelt}'?", expr.span,
                            f"the spec language writes {spelt} in lower case")
        guess = dg.did_you_mean(expr.name, env)
        raise EvalError("NC103", f"unknown name '{expr.name}'" + (f"; did you mean '{guess}'?" if guess else ""),
                        expr.span, "names in expressions are the parameters of the enclosing model, block or "
                                   "directive" + (f": {', '.join(sorted(env))}" if env else " (there are none)"))
    if isinstance(expr, n.ChannelsExpr):
        return CHANNELS
    if isinstance(expr, n.TupleExpr):
        return tuple(evaluate(item, env) for item in expr.items)
    if isinstance(expr, n.ListExpr):
        return [evaluate(item, env) for item in expr.items]
    if isinstance(expr, n.Call):
        if expr.func in FUNCTIONS and expr.receiver is None:
            return _apply_function(expr, env)
        return evaluate_call(expr, env)
    if isinstance(expr, n.UnaryOp):
        return _unary(expr, evaluate(expr.operand, env))
    if isinstance(expr, n.BinOp):
        return _binary(expr, env)
    raise TypeError(f"not an expression: {expr!r}")


class Unhashable(Exception):
    """A value ``freeze`` cannot key (a call written as a value)."""


def freeze(value: Any) -> Any:
    """A hashable key for a value that tells apart what Python thinks equal (1, 1.0, True)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int):
        return ("i", value)
    if isinstance(value, float):
        return ("f", value)
    if isinstance(value, tuple):
        return ("t",) + tuple(freeze(v) for v in value)
    if isinstance(value, list):
        return ("l",) + tuple(freeze(v) for v in value)
    if value is CHANNELS:
        return ("channels",)
    raise Unhashable


def evaluate_call(call: n.Call, env: dict[str, Any]) -> CallValue:
    args = tuple(ArgValue(a.name, evaluate(a.value, env), a.value.span, a.name_span) for a in call.args)
    return CallValue(call.func, call.func_span, args, call.span, call.receiver, call.receiver_span)


def _to_int(x):
    if not _is_number(x):
        raise TypeError("a number")
    return int(x)


def _to_float(x):
    if not _is_number(x):
        raise TypeError("a number")
    return float(x)


def _numbers(*xs):
    if not xs or not all(_is_number(x) for x in xs):
        raise TypeError("one or more numbers")
    return xs


# Pure arithmetic helpers a spec may call in expressions (``int(16 * alpha)``,
# ``max(8, c)``), computed at compile time. In a search, ``int(low, high)`` at the
# top of a binding is the distribution instead: directives read that call unevaluated.
FUNCTIONS = {
    "int": (1, _to_int),
    "float": (1, _to_float),
    "round": (1, lambda x: int(round(*_numbers(x)))),
    "floor": (1, lambda x: math.floor(*_numbers(x))),
    "ceil": (1, lambda x: math.ceil(*_numbers(x))),
    "abs": (1, lambda x: abs(*_numbers(x))),
    "min": (None, lambda *xs: min(_numbers(*xs))),
    "max": (None, lambda *xs: max(_numbers(*xs))),
}


def _apply_function(call: n.Call, env: dict[str, Any]) -> Any:
    arity, fn = FUNCTIONS[call.func]
    if any(a.name is not None for a in call.args) or (arity is not None and len(call.args) != arity):
        wanted = "one value" if arity == 1 else "values"
        raise EvalError("NC202", f"{call.func}() takes {wanted}, positionally", call.span,
                        f"e.g. {call.func}(16 * alpha)" if arity == 1 else f"e.g. {call.func}(8, width // 2)")
    values = [evaluate(a.value, env) for a in call.args]
    try:
        return fn(*values)
    except TypeError as e:
        received = ", ".join(f"{describe_value(v)} ({type_name(v)})" for v in values)
        raise EvalError("NC205", f"{call.func}() takes {e}, but received {received}", call.span) from None
    except (OverflowError, ValueError) as e:
        raise EvalError("NC205", f"{call.func}() failed on these values: {e}", call.span) from None


def _unary(expr: n.UnaryOp, value: Any) -> Any:
    if expr.op == "not":
        if not isinstance(value, bool):
            raise _type_error(expr, "not", [value], "a bool")
        return not value
    if not _is_number(value):
        raise _type_error(expr, expr.op, [value], "a number")
    return -value if expr.op == "-" else value


def _binary(expr: n.BinOp, env: dict[str, Any]) -> Any:
    left = evaluate(expr.left, env)
    if expr.op in ("and", "or"):
        if not isinstance(left, bool):
            raise _type_error(expr, expr.op, [left], "bools")
        if (expr.op == "and" and not left) or (expr.op == "or" and left):
            return left
        right = evaluate(expr.right, env)
        if not isinstance(right, bool):
            raise _type_error(expr, expr.op, [left, right], "bools")
        return right
    right = evaluate(expr.right, env)
    if expr.op in _COMPARISON:
        return _compare(expr, left, right)
    return _arithmetic(expr, left, right)


def _compare(expr: n.BinOp, left: Any, right: Any) -> bool:
    if expr.op in ("==", "!="):
        same = type_name(left) == type_name(right) or (_is_number(left) and _is_number(right))
        equal = same and left == right
        return equal if expr.op == "==" else not equal
    comparable = (_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str))
    if not comparable:
        raise _type_error(expr, expr.op, [left, right], "two numbers or two strings")
    return _COMPARISON[expr.op](left, right)


def _arithmetic(expr: n.BinOp, left: Any, right: Any) -> Any:
    op = expr.op
    joinable = op == "+" and (
        (isinstance(left, str) and isinstance(right, str))
        or (isinstance(left, tuple) and isinstance(right, tuple))
        or (isinstance(left, list) and isinstance(right, list)))
    if not joinable and not (_is_number(left) and _is_number(right)):
        raise _type_error(expr, op, [left, right], "two numbers" + (" (or two strings, tuples or lists)"
                                                                    if op == "+" else ""))
    if op in ("/", "//", "%") and right == 0:
        raise EvalError("NC205", f"division by zero in {describe_value(left)} {op} {describe_value(right)}",
                        expr.span, "check the parameter values that reach this expression")
    result = _ARITHMETIC[op](left, right)
    if _is_number(result) and abs(result) > MAX_INT:
        raise EvalError("NC004", f"the value of this expression is too large ({abs(result):.3g} > {MAX_INT:.3g})",
                        expr.span, "use smaller parameter values")
    return result


def _type_error(expr: n.Expr, op: str, values: list, expected: str) -> EvalError:
    received = " and ".join(f"{describe_value(v)} ({type_name(v)})" for v in values)
    return EvalError("NC205", f"'{op}' cannot be applied to {received}", expr.span, f"'{op}' takes {expected}")
