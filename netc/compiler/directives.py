"""Checks for the train, search and ensemble directives (LANGUAGE.md section 5).

Each setting is evaluated and bound against netc's catalogs of loaders,
optimizers, callbacks, distributions and tree members; cross-references
between directives and models are resolved. Framework-free, like all checks.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, replace
from typing import Any, Callable

from netc import diagnostics as dg
from netc.catalog import training as cat
from netc.catalog.types import describe_value, type_name
from netc.compiler import nodes as n
from netc.compiler.check import bind_arguments
from netc.compiler.datafit import check_train_data
from netc.compiler.evaluate import CallValue, EvalError, evaluate, evaluate_call
from netc.compiler.expand import check_param_value, expand
from netc.compiler.graph import Graph
from netc.diagnostics import Diagnostic, Span

_ALLOWED = {"train": cat.TRAIN_SETTINGS, "search": cat.SEARCH_SETTINGS, "ensemble": cat.ENSEMBLE_SETTINGS}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class DirectiveChecker:
    def __init__(self, module: n.Module, graphs: dict[str, Graph]):
        self.module = module
        self.file = module.file
        self.graphs = graphs
        self.models = {m.name: m for m in module.of_kind("model")}
        self.trains = {t.name: t for t in module.of_kind("train")}
        self.searches = {s.name: s for s in module.of_kind("search")}
        self.diagnostics: list[Diagnostic] = []

    def check(self) -> list[Diagnostic]:
        for directive in self.module.definitions:
            if directive.kind in _ALLOWED:
                settings = self._settings(directive)
                getattr(self, f"_{directive.kind}")(directive, settings)
        return self.diagnostics

    # -- shared
    def _settings(self, directive: n.DirectiveDef) -> dict[str, n.Setting]:
        allowed = _ALLOWED[directive.kind]
        found: dict[str, n.Setting] = {}
        for setting in directive.settings:
            if setting.is_binding:
                continue
            if setting.key not in allowed:
                guess = dg.did_you_mean(setting.key, allowed)
                self._error("NC207", f"'{setting.key}' is not a setting of a {directive.kind} directive"
                            + (f"; did you mean '{guess}'?" if guess else ""), setting.key_span,
                            f"a {directive.kind} directive takes: " + ", ".join(allowed))
            elif setting.direction is not None and setting.key != "objective":
                self._error("NC207", f"'{setting.direction}' belongs to 'objective', not '{setting.key}'",
                            setting.span, f"write e.g. 'objective val_accuracy {setting.direction}'")
                found[setting.key] = setting
            elif setting.key in found:
                self._error("NC105", f"setting '{setting.key}' is given twice", setting.key_span,
                            f"first given on line {found[setting.key].key_span.line}")
            else:
                found[setting.key] = setting
        return found

    def _model(self, directive: n.Definition, what: str) -> n.ModelDef | None:
        model = self.models.get(directive.name)
        if model is None:
            guess = dg.did_you_mean(directive.name, self.models)
            self._error("NC107", f"{what} '{directive.name}' names no model of this file"
                        + (f"; did you mean '{guess}'?" if guess else ""), directive.name_span,
                        "a directive is named after the model it applies to")
        return model

    def _eval(self, expr: n.Expr, env: dict[str, Any]) -> Any:
        try:
            return evaluate(expr, env)
        except EvalError as e:
            self.diagnostics.append(e.diagnostic(self.file))
            return _BAD

    def _word(self, setting: n.Setting, options: tuple[str, ...]) -> str | None:
        """A setting whose value is one word from ``options`` (``strategy tpe``, ``prune none``)."""
        expr = setting.values[0]
        if isinstance(expr, n.NameRef):
            word = expr.name
        elif isinstance(expr, n.Literal) and (isinstance(expr.value, str) or expr.value is None):
            word = "none" if expr.value is None else expr.value
        else:
            word = None
        if options and word not in options:
            guess = dg.did_you_mean(str(word), options) if word else None
            self._error("NC207", f"'{setting.key}' takes one of {', '.join(options)}"
                        + (f"; did you mean '{guess}'?" if guess else ""), expr.span,
                        f"write e.g. '{setting.key} {options[0]}'")
            return None
        if word is None:
            self._error("NC207", f"'{setting.key}' takes a name, like 'val_accuracy'", expr.span)
        return word

    def _positive_int(self, setting: n.Setting, env: dict[str, Any], allow_zero: bool = False) -> None:
        value = self._eval(setting.values[0], env)
        if value is _BAD:
            return
        if not _is_int(value) or value < (0 if allow_zero else 1):
            self._error("NC201", f"'{setting.key}' takes a {'non-negative' if allow_zero else 'positive'} integer, "
                                 f"but received {describe_value(value)} ({type_name(value)})",
                        setting.values[0].span)

    def _call(self, setting_or_expr, value: Any, table: dict, what: str, span: Span) -> None:
        """``value`` must be a call of an entry of ``table``, with arguments that bind."""
        if not isinstance(value, CallValue) or value.receiver is not None:
            self._error("NC201", f"expected {what} call like {next(iter(table))}(...), but received "
                                 f"{describe_value(value)}", span, f"{what}s: " + ", ".join(table))
            return
        spec = table.get(value.func)
        if spec is None:
            guess = dg.did_you_mean(value.func, table)
            self._error("NC101", f"unknown {what} '{value.func}'" + (f"; did you mean '{guess}'?" if guess else ""),
                        value.func_span, f"{what}s: " + ", ".join(table))
            return
        bind_arguments(spec, value, self._error)

    # -- train
    def _train(self, directive: n.DirectiveDef, settings: dict[str, n.Setting]) -> None:
        model = self._model(directive, "train")
        env = self._directive_env(directive)
        if model is not None:
            shared = {p.name for p in model.params} & {p.name for p in directive.params}
            for param in directive.params:
                if param.name in shared:
                    self._error("NC105", f"'{param.name}' is a parameter of both model '{model.name}' and its "
                                         "train block", param.span, "a search binds parameters by name: rename one")
        for key in ("data", "loss"):
            if key not in settings:
                self._error("NC207", f"train '{directive.name}' has no '{key}' setting", directive.name_span,
                            "e.g. 'data mnist1d()' and 'loss \"sparse_categorical_crossentropy\"'")
        for key, setting in settings.items():
            self._train_setting(key, setting, env)
        if "validation_split" in settings and "validation_data" in settings:
            self._error("NC207", "give validation_split or validation_data, not both",
                        settings["validation_split"].key_span, "validation_data replaces the split")
        if model is not None:
            self.diagnostics += check_train_data(model.name, self.graphs.get(model.name), settings, env, self.file)

    def _train_setting(self, key: str, setting: n.Setting, env: dict[str, Any]) -> None:
        value = self._eval(setting.values[0], env)
        if value is _BAD:
            return
        span = setting.values[0].span
        if key in ("data", "test_data", "validation_data"):
            self._call(setting, value, cat.LOADERS, "loader", span)
        elif key == "optimizer":
            if isinstance(value, str):
                if value.lower() not in {o.lower() for o in cat.OPTIMIZERS}:
                    self._error("NC204", f"unknown optimizer {describe_value(value)}", span,
                                "optimizers: " + ", ".join(cat.OPTIMIZERS))
            else:
                self._call(setting, value, cat.OPTIMIZERS, "optimizer", span)
        elif key == "loss":
            self._names(value, cat.LOSSES, "loss", span, allow_single=True)
        elif key == "metrics":
            self._names(value, cat.METRICS, "metric", span, allow_single=False)
        elif key in ("epochs", "batch_size", "steps_per_epoch"):
            self._positive_int(setting, env)
        elif key == "seed":
            self._positive_int(setting, env, allow_zero=True)
        elif key == "validation_split":
            if not _is_number(value) or not 0 <= value < 1:
                self._error("NC204", f"validation_split takes a fraction in [0, 1), but received "
                                     f"{describe_value(value)}", span, "e.g. 'validation_split 0.2'")
        elif key == "callbacks":
            items = value if isinstance(value, list) else [value]
            for item in items:
                self._call(setting, item, cat.CALLBACKS, "callback", span)
        elif key == "shuffle" and not isinstance(value, bool):
            self._error("NC201", f"shuffle takes true or false, but received {describe_value(value)}", span)

    def _names(self, value: Any, known: tuple[str, ...], what: str, span: Span, allow_single: bool) -> None:
        items = [value] if allow_single and isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            shape = f'"{known[0]}"' if allow_single else f'["{known[0]}"]'
            setting = "loss" if allow_single else "metrics"
            self._error("NC201", f"'{setting}' takes {'a name or ' if allow_single else ''}a list of names, but "
                                 f"received {describe_value(value)}", span, f"e.g. {setting} {shape}")
            return
        for item in items:
            if item not in known:
                guess = dg.did_you_mean(item, known)
                self._error("NC204", f"unknown {what} {describe_value(item)}"
                            + (f"; did you mean '{guess}'?" if guess else ""), span,
                            (f"{what}es: " if what == "loss" else f"{what}s: ") + ", ".join(known))

    def _directive_env(self, directive: n.DirectiveDef) -> dict[str, Any]:
        env: dict[str, Any] = {}
        for param in directive.params:
            if param.default is None:
                self._error("NC203", f"train parameter '{param.name}' needs a default", param.span,
                            "a search may bind it, but a plain run needs a value")
                continue
            value = self._eval(param.default, env)
            if value is not _BAD:
                try:
                    env[param.name] = check_param_value(param.type, value)
                except TypeError:
                    self._error("NC201", f"parameter '{param.name}' is declared {param.type} but its default is "
                                         f"{describe_value(value)}", param.default.span)
        return env

    # -- search
    def _search(self, directive: n.DirectiveDef, settings: dict[str, n.Setting]) -> None:
        model = self._model(directive, "search")
        train = self.trains.get(directive.name)
        if model is not None and train is None:
            self._error("NC207", f"search '{directive.name}' has no train block to run its trials",
                        directive.name_span, f"add 'train {directive.name} {{ ... }}'")
        params = {p.name: p for p in (model.params if model else ())}
        params.update({p.name: p for p in (train.params if train else ())})
        bindings = [s for s in directive.settings if s.is_binding]
        seen: set[str] = set()
        for binding in bindings:
            if binding.key in seen:
                self._error("NC105", f"parameter '{binding.key}' is searched twice", binding.key_span)
            seen.add(binding.key)
            self._binding(binding, params if model else None)
        if model is not None and not bindings:
            self._error("NC207", f"search '{directive.name}' binds no parameter", directive.name_span,
                        "e.g. 'width = choice(32, 64, 128)'")
        before = len(self.diagnostics)
        for key, setting in settings.items():
            if key == "strategy":
                strategy = self._word(setting, cat.SEARCH_STRATEGIES)
                if strategy == "grid":
                    self._grid_is_finite(bindings)
            elif key == "prune":
                self._word(setting, cat.PRUNERS)
            elif key == "objective":
                self._word(setting, ())
            elif key == "timeout":
                value = self._eval(setting.values[0], {})
                if value is not _BAD and (not _is_number(value) or value <= 0):
                    self._error("NC201", f"timeout takes seconds (a positive number), but received "
                                         f"{describe_value(value)}", setting.values[0].span)
            else:
                self._positive_int(setting, {}, allow_zero=key == "seed")
        clean = not dg.has_errors(self.diagnostics[before:]) and not any(
            d.severity == dg.ERROR and _within(d, directive.span) for d in self.diagnostics)
        if model is not None and train is not None and bindings and clean:
            self._objective(settings.get("objective"), model, train)
            self._corners(directive, model, train, bindings)

    # -- search: the objective and the corners of the space
    def _objective(self, setting: n.Setting | None, model: n.ModelDef, train: n.DirectiveDef) -> None:
        """The objective must be a quantity the train block logs (Keras's own key for it)."""
        if setting is None or not isinstance(setting.values[0], (n.NameRef, n.Literal)):
            return
        expr = setting.values[0]
        objective = expr.name if isinstance(expr, n.NameRef) else expr.value
        if not isinstance(objective, str):
            return
        train_settings = {s.key: s for s in train.settings if not s.is_binding}
        validated = "validation_split" in train_settings or "validation_data" in train_settings
        if objective.startswith("val_") and not validated:
            self._error("NC503", f"objective '{objective}' is measured on validation data, but train "
                                 f"'{train.name}' has none", expr.span,
                        "add 'validation_split 0.2' to the train block, or optimize a training quantity")
            return
        graph = self.graphs.get(model.name)
        if graph is not None and len(graph.outputs) > 1:
            return  # Keras prefixes each output's metrics with its name: not checked here
        metrics: Any = []
        if "metrics" in train_settings:
            metrics = self._quiet_value(train_settings["metrics"].values[0], self._quiet_env(train))
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            return
        logged = ["loss", *metrics]
        base = objective[4:] if objective.startswith("val_") else objective
        if base not in logged:
            names = logged + ([f"val_{m}" for m in logged] if validated else [])
            guess = dg.did_you_mean(objective, names)
            self._error("NC503", f"objective '{objective}' is not logged by train '{train.name}'"
                        + (f"; did you mean '{guess}'?" if guess else ""), expr.span,
                        "it logs: " + ", ".join(names))

    def _corners(self, directive: n.DirectiveDef, model: n.ModelDef, train: n.DirectiveDef,
                 bindings: list[n.Setting]) -> None:
        """The model and its train block must check at every corner of the space (each range's ends, every
        choice): the first corner that fails is reported at the binding of a parameter that makes it fail."""
        spans = {b.key: b.key_span for b in bindings}
        dists = [d for d in (distribution_of(b) for b in bindings) if d is not None]
        for params, errors, what in ((model.params, lambda values: self._model_errors(model, values), "model"),
                                     (train.params, lambda values: self._train_errors(train, values), "train")):
            names = {p.name for p in params}
            chosen = [d for d in dists if d.name in names]
            # a parameter without a default takes its first corner where the others are varied
            baseline = {d.name: d.corners()[0] for d in chosen
                        if any(p.name == d.name and p.default is None for p in params)}
            failing = (lambda errors, baseline: lambda values: errors({**baseline, **values}))(errors, baseline)
            if not chosen or failing({}):
                continue  # nothing searched here, or it fails at its defaults already (reported as such)
            combos, total = corner_combinations(chosen)
            self.corner_work, checked = 0, 0
            for combo in combos:
                if self.corner_work > MAX_CORNER_WORK:
                    break  # a big model: checking stays fast (the editor checks on every keystroke)
                values = dict(zip((d.name for d in chosen), combo))
                found = failing(values)
                checked += 1
                if found:
                    self._report_corner(f"{what} '{model.name}'", values, found, failing, spans,
                                        ", or guard the layer with an 'if'" if what == "model" else "")
                    break
            else:
                if checked < total:
                    self.diagnostics.append(dg.make(
                        "NC502", f"search '{directive.name}' has {total:,} corners; {checked} of them were checked "
                                 "(the lowest, the highest and a fixed sample)", directive.name_span, self.file,
                        "fewer choices or parameters make every corner checked", severity=dg.INFO))
                continue
            if not found and checked < total:
                self.diagnostics.append(dg.make(
                    "NC502", f"search '{directive.name}' has {total:,} corners; {checked} of them were checked "
                             "(the lowest, the highest and the first of a fixed sample: the model is large)",
                    directive.name_span, self.file, "fewer choices or parameters make every corner checked",
                    severity=dg.INFO))

    def _report_corner(self, what: str, values: dict[str, Any], found: list[Diagnostic], failing, spans,
                       more_hint: str) -> None:
        culprits = [name for name in values if not failing({k: v for k, v in values.items() if k != name})]
        culprits = culprits or list(values)
        first = found[0]
        shown = ", ".join(f"{name}={_literal(values[name])}" for name in culprits)
        verb = "makes" if len(culprits) == 1 else "make"
        self._error("NC501", f"{shown} {verb} {what} fail its checks: {first.message} "
                             f"(line {first.line}, {first.code})", spans[culprits[0]],
                    "every point of the search space must check: narrow the range of "
                    + " or ".join(f"'{c}'" for c in culprits) + more_hint)

    def _model_errors(self, model: n.ModelDef, values: dict[str, Any]) -> list[Diagnostic]:
        from netc.compiler.check import check

        graph, found = expand(self.module, model, values, self.file)
        self.corner_work = getattr(self, "corner_work", 0) + len(graph.nodes)
        if not dg.has_errors(found):
            found = found + check(graph)
        return [d for d in found if d.severity == dg.ERROR]

    def _train_errors(self, train: n.DirectiveDef, values: dict[str, Any]) -> list[Diagnostic]:
        params = tuple(replace(p, default=n.Literal(p.default.span if p.default else p.span, values[p.name]))
                       if p.name in values else p for p in train.params)
        bound = replace(train, params=params)
        checker = DirectiveChecker(self.module, self.graphs)
        checker._train(bound, checker._settings(bound))
        return [d for d in checker.diagnostics if d.severity == dg.ERROR]

    def _quiet_env(self, directive: n.DirectiveDef) -> dict[str, Any]:
        env: dict[str, Any] = {}
        for param in directive.params:
            if param.default is not None:
                value = self._quiet_value(param.default, env)
                if value is not _BAD:
                    env[param.name] = value
        return env

    def _quiet_value(self, expr: n.Expr, env: dict[str, Any]) -> Any:
        try:
            return evaluate(expr, env)
        except EvalError:
            return _BAD

    def _binding(self, binding: n.Setting, params: dict[str, n.Param] | None) -> None:
        param = None
        if params is not None:
            param = params.get(binding.key)
            if param is None:
                guess = dg.did_you_mean(binding.key, params)
                self._error("NC103", f"'{binding.key}' is not a parameter of the model or its train block"
                            + (f"; did you mean '{guess}'?" if guess else ""), binding.key_span,
                            "parameters: " + (", ".join(params) or "none"))
        expr = binding.values[0]
        try:  # the top call is the distribution, even when it is spelt like a function (int)
            value = evaluate_call(expr, {}) if isinstance(expr, n.Call) else evaluate(expr, {})
        except EvalError as e:
            self.diagnostics.append(e.diagnostic(self.file))
            return
        span = expr.span
        if not isinstance(value, CallValue) or value.func not in cat.DISTRIBUTIONS or value.receiver:
            self._error("NC201", f"'{binding.key}' must be bound to a distribution, but received "
                                 f"{describe_value(value)}", span,
                        "distributions: choice(...), int(low, high), uniform(low, high), loguniform(low, high)")
            return
        if value.func == "choice":
            self._choice(binding, value, param)
            return
        spec = cat.DISTRIBUTIONS[value.func]
        bound = bind_arguments(spec, value, self._error)
        if not bound.ok:
            return
        low, high = bound.values["low"], bound.values["high"]
        step, log = bound.values.get("step"), bound.values.get("log", False)
        if low >= high:
            self._error("NC204", f"{value.func}({low}, {high}) is empty: low must be below high", span)
        elif value.func == "loguniform" and low <= 0:
            self._error("NC204", f"loguniform needs a positive low, but received {low}", span,
                        "e.g. loguniform(1e-4, 1e-2)")
        elif log and low <= 0:
            self._error("NC204", f"a log-scaled range needs a positive low, but received {low}", span,
                        f"e.g. {value.func}(1, {high}, log=true)")
        elif step is not None and step <= 0:
            self._error("NC204", f"the step of {value.func}(...) must be positive, but received {step}", span)
        elif step is not None and log and (value.func != "int" or step != 1):
            self._error("NC204", f"{value.func}(...) takes a step or log=true, not both", span,
                        "a log-scaled range has no fixed step")
        elif step is not None and step > high - low:
            self._error("NC204", f"the step {step} of {value.func}({low}, {high}) is larger than the range", span,
                        f"use a step of at most {high - low}")
        if param is not None and param.type == "int" and value.func != "int":
            self._error("NC201", f"'{binding.key}' is an int parameter but {value.func}(...) samples floats",
                        value.func_span, f"use int({low}, {high})")
        if param is not None and param.type in ("bool", "str"):
            self._error("NC201", f"'{binding.key}' is a {param.type} parameter; sample it with choice(...)",
                        value.func_span)

    def _choice(self, binding: n.Setting, value: CallValue, param: n.Param | None) -> None:
        if not value.args or any(a.name is not None for a in value.args):
            self._error("NC203", "choice(...) takes one or more values, positionally", value.span,
                        "e.g. choice(32, 64, 128)")
            return
        for arg in value.args:
            if param is None:
                continue
            try:
                check_param_value(param.type, arg.value)
            except TypeError:
                self._error("NC201", f"'{binding.key}' is declared {param.type}, but choice offers "
                                     f"{describe_value(arg.value)} ({type_name(arg.value)})", arg.span)

    def _grid_is_finite(self, bindings: list[n.Setting]) -> None:
        for binding in bindings:
            expr = binding.values[0]
            dist = distribution_of(binding)
            if dist is not None and dist.grid() is not None:
                continue  # choice, int, or a uniform range with a step
            if isinstance(expr, n.Call) and expr.func not in ("choice", "int"):
                self._error("NC207", f"strategy grid needs finite choices, but '{binding.key}' is "
                                     f"{expr.func}(...)", expr.func_span,
                            "use choice(...), int(...) or uniform(low, high, step=...) with grid")

    # -- ensemble
    def _ensemble(self, directive: n.DirectiveDef, settings: dict[str, n.Setting]) -> None:
        if "members" not in settings:
            self._error("NC207", f"ensemble '{directive.name}' has no members", directive.name_span,
                        "e.g. 'members Model.top(5), GradientBoosting()'")
        networks: list[tuple[str, Span]] = []
        for key, setting in settings.items():
            if key == "members":
                for expr in setting.values:
                    found = self._member(expr)
                    if found is not None:
                        networks.append(found)
            elif key == "weights":
                self._word(setting, cat.ENSEMBLE_WEIGHTS)
            elif key == "objective":
                self._ensemble_objective(setting)
            elif key == "holdout":
                value = self._eval(setting.values[0], {})
                if value is not _BAD and (not _is_number(value) or not 0 < value < 1):
                    self._error("NC204", f"holdout takes a fraction in (0, 1), but received {describe_value(value)}",
                                setting.values[0].span)
            else:
                self._positive_int(setting, {}, allow_zero=key == "seed")
        if "members" in settings:
            self._ensemble_data(directive, settings["members"], networks)
        if "folds" in settings and "holdout" in settings:
            self._error("NC207", "give holdout or folds, not both", settings["folds"].key_span,
                        "holdout fits the weights on one held-out part; folds on out-of-fold predictions")
        elif "folds" in settings:
            value = self._eval(settings["folds"].values[0], {})
            if _is_int(value) and value == 1:
                self._error("NC204", "folds takes 2 or more: each member trains on all folds but one",
                            settings["folds"].values[0].span, "e.g. 'folds 5'")

    def _ensemble_objective(self, setting: n.Setting) -> None:
        word = self._word(setting, ())
        if word is not None and word not in _ENSEMBLE_OBJECTIVES:
            guess = dg.did_you_mean(word, _ENSEMBLE_OBJECTIVES)
            self._error("NC207", f"an ensemble's objective is one of {', '.join(_ENSEMBLE_OBJECTIVES)}"
                        + (f"; did you mean '{guess}'?" if guess else ""), setting.values[0].span,
                        "val_loss fits weights by log loss (or MSE), val_accuracy by the error rate")
        elif word is not None and setting.direction is not None:
            implied = "maximize" if "accuracy" in word else "minimize"
            if setting.direction != implied:
                self._error("NC207", f"an ensemble's {word} is always {implied}d, not {setting.direction}d",
                            setting.span, f"write 'objective {word}'")

    def _ensemble_data(self, directive: n.DirectiveDef, members: n.Setting,
                       networks: list[tuple[str, Span]]) -> None:
        """Every member trains on the same data: the data (and test_data) of the network members' train blocks."""
        if not networks:
            if not self.diagnostics or all(not _inside(d, members.span) for d in self.diagnostics):
                self._error("NC208", f"ensemble '{directive.name}' has no network member to take its data from",
                            members.span, "add a model with a train block: its data is every member's data")
            return
        first: dict[str, tuple[str, str]] = {}
        for model, span in networks:
            train = self.trains.get(model)
            if train is None:
                continue
            for key in ("data", "test_data"):
                text = self._quiet_call_text(train, key)
                if key not in first:
                    first[key] = (model, text)
                elif text != first[key][1]:
                    other, other_text = first[key]
                    self._error("NC208", f"ensemble members train on different data: {key} of {other} is "
                                         f"{other_text or 'not given'} but {key} of {model} is {text or 'not given'}",
                                span, f"give the train blocks of {other} and {model} the same {key}")

    def _quiet_call_text(self, train: n.DirectiveDef, key: str) -> str | None:
        """A loader setting of a train block as text, evaluated with the block's defaults; None if absent or bad."""
        from netc.compiler.datafit import call_text

        setting = next((s for s in train.settings if s.key == key and not s.is_binding), None)
        if setting is None:
            return None
        env: dict[str, Any] = {}
        try:
            for param in train.params:
                if param.default is not None:
                    env[param.name] = evaluate(param.default, env)
            value = evaluate(setting.values[0], env)
        except EvalError:
            return None
        return call_text(value) if isinstance(value, CallValue) else None

    def _member(self, expr: n.Expr) -> tuple[str, Span] | None:
        """Check one member; returns the network model it trains (and where), None for a tree or a bad member."""
        if isinstance(expr, n.NameRef):
            expr = n.Call(expr.span, expr.name, expr.span, ())
        if not isinstance(expr, n.Call):
            self._error("NC201", "an ensemble member is a model, Model.top(k) or a tree model like "
                                 "GradientBoosting()", expr.span)
            return
        value = self._eval(expr, {})
        if value is _BAD:
            return None
        if value.receiver is not None:
            self._top_member(value)
            return (value.receiver, value.receiver_span) if value.receiver in self.models else None
        elif value.func in cat.TREES:
            bind_arguments(cat.TREES[value.func], value, self._error)
        elif value.func in self.models:
            self._model_member(value)
            return value.func, value.func_span
        else:
            guess = dg.did_you_mean(value.func, list(self.models) + list(cat.TREES))
            self._error("NC101", f"unknown ensemble member '{value.func}'" + (f"; did you mean '{guess}'?" if guess
                                                                               else ""), value.func_span,
                        "members are models of this file or tree models: " + ", ".join(cat.TREES))

    def _top_member(self, value: CallValue) -> None:
        if value.receiver not in self.searches:
            guess = dg.did_you_mean(value.receiver, self.searches)
            self._error("NC107", f"'{value.receiver}.{value.func}' needs a search of model '{value.receiver}'"
                        + (f"; did you mean '{guess}'?" if guess else ""), value.receiver_span,
                        f"add 'search {value.receiver} {{ ... }}'")
            return
        if value.func != "top":
            self._error("NC102", f"a search has no member '{value.func}'; write {value.receiver}.top(k)",
                        value.func_span)
            return
        if len(value.args) != 1 or not _is_int(value.args[0].value) or value.args[0].value < 1:
            self._error("NC201", "top(k) takes one positive integer: the number of best trials", value.span)

    def _model_member(self, value: CallValue) -> None:
        model = self.models[value.func]
        if value.func not in self.trains:
            self._error("NC207", f"ensemble member '{value.func}' has no train block", value.func_span,
                        f"add 'train {value.func} {{ ... }}'")
        params = {p.name: p for p in model.params}
        train = self.trains.get(value.func)
        train_params = {p.name: p for p in (train.params if train else ()) if p.name not in params}
        for arg in value.args:  # like a search, a member binds model and train parameters by name
            param = (params.get(arg.name) or train_params.get(arg.name)) if arg.name else None
            if param is None:
                guess = dg.did_you_mean(arg.name or "", list(params) + list(train_params))
                self._error("NC108", f"model '{model.name}' has no parameter '{arg.name}'"
                            + (f"; did you mean '{guess}'?" if guess else "") if arg.name else
                            "model members take parameters by name, e.g. Tunable(width=128)",
                            arg.name_span or arg.span, "parameters: " + (", ".join(params) or "none"))
                continue
            try:
                check_param_value(param.type, arg.value)
            except TypeError:
                self._error("NC201", f"parameter '{param.name}' is declared {param.type} but receives "
                                     f"{describe_value(arg.value)}", arg.span)

    def _error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(dg.make(code, message, span, self.file, hint))


def _inside(d: Diagnostic, span: Span) -> bool:
    return (span.line, span.column) <= (d.line, d.column) <= (span.end_line, span.end_column)


_ENSEMBLE_OBJECTIVES = ("val_loss", "val_accuracy", "loss", "accuracy")


def _within(d: Diagnostic, span: Span) -> bool:
    return (span.line, span.column) <= (d.line, d.column) <= (span.end_line, span.end_column)


def _literal(value: Any) -> str:
    """A value as the spec spells it, for messages."""
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Distribution:
    """One searched parameter's distribution, bound and plain (no framework): what both the checks and
    the search runtime read. ``kind`` is choice, int, uniform or loguniform."""

    name: str
    kind: str
    choices: tuple = ()
    low: Any = None
    high: Any = None
    step: Any = None
    log: bool = False

    def top(self) -> Any:
        """The highest value the range can give (a stepped range may end below ``high``)."""
        if self.step is None:
            return self.high
        top = self.low + ((self.high - self.low) // self.step) * self.step
        return type(self.low)(top) if self.kind == "int" else float(top)

    def corners(self) -> list:
        if self.kind == "choice":
            return list(self.choices)
        return [self.low] if self.top() == self.low else [self.low, self.top()]

    def grid(self) -> list | None:
        """Every value, for a grid search; None for a continuous range."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return list(range(self.low, self.top() + 1, self.step or 1))
        if self.step is not None:
            count = int(round((self.top() - self.low) / self.step)) + 1
            return [float(self.low + i * self.step) for i in range(count)]
        return None


def distribution_of(binding: n.Setting) -> Distribution | None:
    """The distribution of a search binding, or None if it does not check (the checks report why)."""
    expr = binding.values[0]
    if not isinstance(expr, n.Call):
        return None
    try:
        value = evaluate_call(expr, {})
    except EvalError:
        return None
    if value.func not in cat.DISTRIBUTIONS or value.receiver is not None:
        return None
    if value.func == "choice":
        if not value.args or any(a.name is not None for a in value.args):
            return None
        return Distribution(binding.key, "choice", tuple(a.value for a in value.args))
    problems: list = []
    bound = bind_arguments(cat.DISTRIBUTIONS[value.func], value, lambda *args, **kw: problems.append(args))
    if problems or not bound.ok:
        return None
    args = bound.with_defaults()
    low, high = args["low"], args["high"]
    if value.func == "int":
        return Distribution(binding.key, "int", (), int(low), int(high), int(args["step"]), bool(args["log"]))
    step = args.get("step")
    return Distribution(binding.key, value.func, (), float(low), float(high),
                        None if step is None else float(step), value.func == "loguniform" or bool(args.get("log")))


MAX_CORNERS = 256
MAX_CORNER_WORK = 30_000  # layers expanded over all corners of one search, at most


def corner_combinations(dists: list[Distribution], cap: int = MAX_CORNERS) -> tuple[list[tuple], int]:
    """The corners of the space (every combination of each range's ends and every choice) and how many
    there are; beyond ``cap``, the all-low and all-high corners and a fixed sample of the rest."""
    axes = [d.corners() for d in dists]
    total = 1
    for axis in axes:
        total *= len(axis)
    if total <= cap:
        combos = list(itertools.product(*axes))
        return (combos[:1] + combos[-1:] + combos[1:-1] if len(combos) > 2 else combos), total
    picked = {0, total - 1} | set(random.Random(0).sample(range(1, total - 1), cap - 2))
    combos = []
    for index in sorted(picked):
        combo, rest = [], index
        for axis in reversed(axes):
            rest, i = divmod(rest, len(axis))
            combo.append(axis[i])
        combos.append(tuple(reversed(combo)))
    return combos, total


class _Bad:
    pass


_BAD = _Bad()


def check_directives(module: n.Module, graphs: dict[str, Graph]) -> list[Diagnostic]:
    """The entry point: diagnostics for every train, search and ensemble directive."""
    return DirectiveChecker(module, graphs).check()
