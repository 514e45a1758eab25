"""The resolved spec: the original text with every parameter of the run bound.

``spec.net`` in a run folder is the spec exactly as written, except that the
trained model's and its train block's parameter defaults are the values the
run used (and ``epochs`` is the count it ran with), so training that file
again without ``--param`` reproduces the run. Edits use the parser's spans;
nothing else in the text moves.
"""
from __future__ import annotations

from netc.catalog.types import describe_value
from netc.compiler import nodes as n
from netc.diagnostics import Span, line_starts
from netc.runtime.plan import TrainPlan


def resolved_spec(plan: TrainPlan) -> str:
    """The spec text of ``plan`` with its parameters and epochs bound."""
    text = plan.text
    starts = line_starts(text)
    edits: list[tuple[int, int, str]] = []
    for params, values in ((plan.model.params, plan.model_params), (plan.train.params, plan.train_params)):
        for param in params:
            if param.name not in values:
                continue
            literal = describe_value(values[param.name], full_calls=True)
            if param.default is not None:
                edits.append((*_offsets(starts, param.default.span), literal))
            else:
                end = _offsets(starts, param.span)[1]
                edits.append((end, end, f" = {literal}"))
    if plan.epochs_overridden:
        edits.append(_epochs_edit(plan.train, plan.epochs, starts))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    header = (f"# Resolved by netc train: model {plan.model.name}, every parameter bound to the value of this run.\n")
    return header + text


def _epochs_edit(train: n.DirectiveDef, epochs: int, starts: list[int]) -> tuple[int, int, str]:
    for setting in train.settings:
        if setting.key == "epochs":
            return (*_offsets(starts, setting.values[0].span), str(epochs))
    closing = _offsets(starts, train.span)[1] - 1  # the train block's closing brace
    return closing, closing, f"    epochs {epochs}\n"


def _offsets(starts: list[int], span: Span) -> tuple[int, int]:
    """A span's start and end as offsets into the text (columns are 1-based, the end exclusive)."""
    return starts[span.line - 1] + span.column - 1, starts[span.end_line - 1] + span.end_column - 1
