"""An ensemble directive, resolved into plain data: its members, how to weight them, and its data.

Framework-free like ``plan.py``: every static check of the file runs first.
The data of an ensemble is the ``data`` (and ``test_data``) of its network
members' train blocks, which the checks require to agree; every member, the
trees too, trains on the member-training part of it (see ``ensemble.py``).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from netc import diagnostics as dg
from netc.catalog import training as cat
from netc.catalog.types import describe_value
from netc.compiler import nodes as n
from netc.compiler.check import bind_arguments
from netc.compiler.evaluate import CallValue, EvalError, evaluate
from netc.compiler.pipeline import analyze
from netc.diagnostics import Span, SpecError
from netc.runtime.ensemble_weights import ACCURACY_OBJECTIVES
from netc.runtime.plan import LoaderCall, TrainPlan, plan_training

DEFAULTS = {"weights": "uniform", "objective": "val_loss", "iterations": 100, "seed": 0, "holdout": 0.2}


@dataclass(frozen=True)
class Member:
    """One member as written: a network with bound parameters, ``Model.top(k)``, or a tree."""

    kind: str                  # network | top | tree
    name: str                  # the model's or the tree's catalog name
    text: str                  # as written in the spec, for tables
    params: dict[str, Any] = field(default_factory=dict)   # network: parameters; tree: its arguments
    k: int = 0                 # top(k)
    span: Span | None = None   # the member in the spec


@dataclass
class EnsemblePlan:
    spec_file: str
    text: str
    module: n.Module
    name: str
    directive: n.DirectiveDef
    members: list[Member]
    weights: str
    objective: str
    iterations: int
    seed: int
    holdout: float
    folds: int | None
    data: LoaderCall
    test_data: LoaderCall | None
    loss: Any
    classify: bool
    data_from: str             # the model whose train block names the data
    fingerprint: str = ""

    @property
    def searches(self) -> list[str]:
        """The models whose search this ensemble's ``top(k)`` members need, in order."""
        return list(dict.fromkeys(m.name for m in self.members if m.kind == "top"))

    @property
    def networks(self) -> list[str]:
        return list(dict.fromkeys(m.name for m in self.members if m.kind in ("network", "top")))


def is_classifier_loss(loss: Any) -> bool:
    return isinstance(loss, str) and (loss in cat.SPARSE_CLASS_LOSSES or loss in cat.ONE_HOT_CLASS_LOSSES
                                      or loss == "binary_crossentropy")


def ensemble_names(module: n.Module) -> list[str]:
    return [d.name for d in module.of_kind("ensemble")]


def plan_ensemble(text: str, file: str, name: str | None = None) -> EnsemblePlan:
    """Resolve ensemble ``name`` (or the file's only one); raises SpecError with every problem it has."""
    analysis = analyze(text, file)
    module = analysis.module
    directive = _choose(module, name, file)
    inside = [d for d in analysis.diagnostics if d.severity == dg.ERROR and _inside(d, directive.span)]
    if inside:
        raise SpecError(inside)
    settings = {s.key: s for s in directive.settings if not s.is_binding}
    members = [_member(expr, file) for expr in settings["members"].values]
    networks = [m for m in members if m.kind in ("network", "top")]
    if not networks:
        raise SpecError([dg.make("NC208", f"ensemble '{directive.name}' has no network member to take its data from",
                                 directive.name_span, file,
                                 "add a model with a train block (its data is every member's data)")])
    data_from = networks[0].name
    train = plan_training(text, file, data_from)
    values = {key: _value(setting, file) for key, setting in settings.items() if key != "members"}
    objective = values.get("objective", DEFAULTS["objective"])
    classify = is_classifier_loss(train.loss)
    if objective in ACCURACY_OBJECTIVES and not classify:
        raise SpecError([dg.make("NC207", f"objective {objective} needs classifiers, but {data_from} trains with "
                                          f"loss {train.loss!r}", settings["objective"].values[0].span, file,
                                 "use 'objective val_loss'")])
    plan = EnsemblePlan(
        spec_file=file, text=text, module=module, name=directive.name, directive=directive, members=members,
        weights=values.get("weights", DEFAULTS["weights"]), objective=objective,
        iterations=values.get("iterations", DEFAULTS["iterations"]), seed=values.get("seed", DEFAULTS["seed"]),
        holdout=float(values.get("holdout", DEFAULTS["holdout"])), folds=values.get("folds"),
        data=train.data, test_data=train.test_data, loss=train.loss, classify=classify, data_from=data_from)
    plan.fingerprint = fingerprint(text, module, [directive.name] + plan.networks
                                   + [f"search:{m}" for m in plan.searches])
    return plan


def member_train_plan(plan: EnsemblePlan, model: str, params: dict[str, Any], epochs: int | None) -> TrainPlan:
    """The train block of a network member with its parameters bound."""
    return plan_training(plan.text, plan.spec_file, model, params, epochs)


def _choose(module: n.Module, name: str | None, file: str) -> n.DirectiveDef:
    ensembles = module.of_kind("ensemble")
    if name is not None:
        for e in ensembles:
            if e.name == name:
                return e
        guess = dg.did_you_mean(name, [e.name for e in ensembles])
        raise SpecError([dg.make("NC107", f"no ensemble named '{name}' in {file}"
                                 + (f"; did you mean '{guess}'?" if guess else ""), Span.point(), file,
                                 "ensembles here: " + (", ".join(e.name for e in ensembles) or "none"))])
    if len(ensembles) == 1:
        return ensembles[0]
    if not ensembles:
        raise SpecError([dg.make("NC107", f"{file} defines no ensemble", Span.point(), file,
                                 "add 'ensemble Name { members Model(), GradientBoosting() }'")])
    raise SpecError([dg.make("NC107", f"{file} defines {len(ensembles)} ensembles; choose one", Span.point(), file,
                             "pass --name NAME; ensembles here: " + ", ".join(e.name for e in ensembles))])


def _inside(d, span: Span) -> bool:
    return (span.line, span.column) <= (d.line, d.column) <= (span.end_line, span.end_column)


def _member(expr: n.Expr, file: str) -> Member:
    if isinstance(expr, n.NameRef):
        expr = n.Call(expr.span, expr.name, expr.span, ())
    try:
        value: CallValue = evaluate(expr, {})
    except EvalError as e:  # the checks accepted it; kept so a surprise is a diagnostic
        raise SpecError([e.diagnostic(file)]) from None
    text = describe_value(value, full_calls=True)
    if value.receiver is not None:
        return Member("top", value.receiver, text, {}, int(value.args[0].value), value.span)
    if value.func in cat.TREES:
        binding = bind_arguments(cat.TREES[value.func], value, _ignore)
        return Member("tree", value.func, text, dict(binding.values), span=value.span)
    return Member("network", value.func, text, {a.name: a.value for a in value.args}, span=value.span)


def _value(setting: n.Setting, file: str) -> Any:
    expr = setting.values[0]
    if isinstance(expr, n.NameRef):
        return expr.name
    try:
        value = evaluate(expr, {})
    except EvalError as e:
        raise SpecError([e.diagnostic(file)]) from None
    return "none" if value is None and setting.key in ("weights", "objective") else value


def _ignore(*args, **kwargs) -> None:
    pass


def fingerprint(text: str, module: n.Module, names: list[str]) -> str:
    """A hash of what a job's result depends on: the named definitions and every block and model.

    ``names`` are definition names (``search:Model`` for a model's search); an
    edit elsewhere in the file (another train block, a comment) leaves it unchanged.
    """
    lines = text.splitlines()
    wanted = set(names)
    parts = []
    for d in module.definitions:
        key = f"search:{d.name}" if d.kind == "search" else d.name
        if d.kind in ("block", "model") or key in wanted or (d.kind == "train" and d.name in wanted):
            parts.append(f"{d.kind} " + "\n".join(lines[d.span.line - 1:d.span.end_line]))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
