"""A spec's search directive, resolved into plain data, and how one trial samples it.

``load_search`` runs every static check (the corners of the space included)
and reads the directive's settings; it imports no framework. ``sample_params``
samples a trial define-by-run: a model parameter is suggested to the trial the
first time the expansion of the model reads it (so one read only under an
``if`` that is not taken is never sampled), and a train parameter when the
train block reads it. Only ``make_sampler`` and ``make_pruner`` import Optuna.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from netc import diagnostics as dg
from netc.catalog.types import describe_value
from netc.compiler import nodes as n
from netc.compiler.directives import Distribution, distribution_of
from netc.compiler.evaluate import EvalError, evaluate
from netc.compiler.expand import expand
from netc.compiler.pipeline import read_source, safe_analyze
from netc.diagnostics import SpecError, Span

DEFAULT_TRIALS = 20
DEFAULT_MAX_FAILURES = 5
# quantities where lower is better, when the objective names no direction
_LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "crossentropy", "hinge", "divergence", "poisson", "log_cosh")


@dataclass
class SearchSpec:
    spec_file: str
    text: str
    module: n.Module
    model: n.ModelDef
    train: n.DirectiveDef
    search: n.DirectiveDef
    dists: dict[str, Distribution]
    strategy: str = "tpe"
    trials: int = DEFAULT_TRIALS
    trials_given: bool = False
    timeout: float | None = None
    objective: str = "val_loss"
    direction: str = "minimize"
    prune: str = "none"
    seed: int | None = None
    workers: int = 1
    max_failures: int = DEFAULT_MAX_FAILURES
    epochs: int = 1
    model_names: frozenset = field(default_factory=frozenset)
    train_names: frozenset = field(default_factory=frozenset)

    def grid_space(self) -> dict[str, list]:
        """Every value of every parameter, as Optuna's GridSampler takes them."""
        return {name: [encode(d, v) for v in (d.grid() or [])] for name, d in self.dists.items()}

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid_space().values())


def load_search(path: str | Path, model: str | None = None) -> SearchSpec:
    """The search directive of ``model`` (default: the only model with one), checked; raises SpecError."""
    text, problem = read_source(path)
    if problem:
        raise SpecError([problem])
    return search_from_text(text, str(path), model)


def search_from_text(text: str, file: str, model: str | None = None) -> SearchSpec:
    analysis = safe_analyze(text, file)
    module = analysis.module
    searches = {d.name: d for d in module.of_kind("search")}
    if model is None:
        if len(searches) != 1:
            names = ", ".join(searches) or "none"
            raise SpecError([dg.make("NC107", f"{file} has {len(searches)} search directives; choose one model"
                                     if searches else f"{file} has no search directive", Span.point(), file,
                                     f"pass --model NAME; models with a search: {names}" if searches else
                                     "add 'search Model { width = choice(32, 64) ... }'")])
        model = next(iter(searches))
    models = {m.name: m for m in module.of_kind("model")}
    trains = {t.name: t for t in module.of_kind("train")}
    if model not in models or model not in searches:
        guess = dg.did_you_mean(model, searches)
        raise SpecError([dg.make("NC107", f"no search for a model named '{model}' in {file}"
                                 + (f"; did you mean '{guess}'?" if guess else ""), Span.point(), file,
                                 "models with a search: " + (", ".join(searches) or "none"))])
    model_def, search = models[model], searches[model]
    train = trains.get(model)
    spans = [model_def.span, search.span] + ([train.span] if train else []) + [b.span for b in module.of_kind("block")]
    blocking = [d for d in analysis.diagnostics if d.severity == dg.ERROR
                and (d.code.startswith("NC0") or any(_inside(d, s) for s in spans))]
    if blocking or train is None:
        raise SpecError(blocking or [dg.make("NC207", f"search '{model}' has no train block to run its trials",
                                             search.name_span, file, f"add 'train {model} {{ ... }}'")])
    dists = {}
    for binding in (s for s in search.settings if s.is_binding):
        dist = distribution_of(binding)
        if dist is not None:
            dists[binding.key] = dist
    spec = SearchSpec(file, text, module, model_def, train, search, dists,
                      model_names=frozenset(p.name for p in model_def.params),
                      train_names=frozenset(p.name for p in train.params))
    _read_settings(spec)
    return spec


def _read_settings(spec: SearchSpec) -> None:
    settings = {s.key: s for s in spec.search.settings if not s.is_binding}

    def word(key: str, default: str) -> str:
        if key not in settings:
            return default
        expr = settings[key].values[0]
        if isinstance(expr, n.NameRef):
            return expr.name
        return "none" if expr.value is None else str(expr.value)

    def number(key: str, default: Any) -> Any:
        return evaluate(settings[key].values[0], {}) if key in settings else default

    spec.strategy = word("strategy", "tpe")
    spec.prune = word("prune", "none")
    spec.seed = number("seed", None)
    spec.workers = number("workers", 1)
    spec.max_failures = number("max_failures", DEFAULT_MAX_FAILURES)
    spec.timeout = number("timeout", None)
    spec.trials_given = "trials" in settings
    spec.trials = number("trials", spec.grid_size() if spec.strategy == "grid" else DEFAULT_TRIALS)
    train_settings = {s.key: s for s in spec.train.settings if not s.is_binding}
    validated = "validation_split" in train_settings or "validation_data" in train_settings
    spec.objective = word("objective", "val_loss" if validated else "loss")
    direction = settings["objective"].direction if "objective" in settings else None
    spec.direction = direction or ("minimize" if any(w in spec.objective.lower() for w in _LOWER_IS_BETTER)
                                   else "maximize")
    env = _train_env(spec.train)
    try:
        epochs = evaluate(train_settings["epochs"].values[0], env) if "epochs" in train_settings else 1
    except EvalError:
        epochs = 1
    spec.epochs = epochs if isinstance(epochs, int) and epochs > 0 else 1


def _train_env(train: n.DirectiveDef) -> dict[str, Any]:
    env: dict[str, Any] = {}
    for param in train.params:
        if param.default is not None:
            try:
                env[param.name] = evaluate(param.default, env)
            except EvalError:
                pass
    return env


def _inside(d: dg.Diagnostic, span: Span) -> bool:
    return (span.line, span.column) <= (d.line, d.column) <= (span.end_line, span.end_column)


# ---- values as Optuna stores them ----------------------------------------------

def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def encode(dist: Distribution, value: Any) -> Any:
    """A value as Optuna holds it: itself, or for a choice among tuples or lists, its spelling in the spec."""
    if dist.kind == "choice" and not all(_plain(c) for c in dist.choices):
        return describe_value(value, full_calls=True)
    return value


def decode(dist: Distribution, stored: Any) -> Any:
    """The inverse of ``encode``: the spec's value of what Optuna stored."""
    if dist.kind == "choice" and not all(_plain(c) for c in dist.choices):
        for choice in dist.choices:
            if encode(dist, choice) == stored:
                return choice
    if dist.kind == "int" and isinstance(stored, float) and stored.is_integer():
        return int(stored)
    return stored


def suggest(dist: Distribution, trial) -> Any:
    """Sample one parameter through the trial (any object with Optuna's ``suggest_*`` methods)."""
    if dist.kind == "choice":
        return decode(dist, trial.suggest_categorical(dist.name, [encode(dist, c) for c in dist.choices]))
    if dist.kind == "int":
        if dist.log:
            return trial.suggest_int(dist.name, dist.low, dist.high, log=True)
        return trial.suggest_int(dist.name, dist.low, dist.high, step=dist.step or 1)
    if dist.log:
        return trial.suggest_float(dist.name, dist.low, dist.high, log=True)
    return trial.suggest_float(dist.name, dist.low, dist.high, step=dist.step)


def decode_params(spec: SearchSpec, params: dict[str, Any]) -> dict[str, Any]:
    """A trial's stored parameters as the spec's values."""
    return {k: decode(spec.dists[k], v) if k in spec.dists else v for k, v in params.items()}


# ---- define-by-run -----------------------------------------------------------------

class _Suggested(Mapping):
    """The searched model parameters as overrides the expander binds lazily (``lazy_names``)."""

    def __init__(self, spec: SearchSpec, trial, names: frozenset):
        self.spec, self.trial, self.lazy_names = spec, trial, names
        self.values: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.lazy_names:
            raise KeyError(name)
        if name not in self.values:
            self.values[name] = suggest(self.spec.dists[name], self.trial)
        return self.values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.lazy_names)

    def __len__(self) -> int:
        return len(self.lazy_names)


def sample_params(spec: SearchSpec, trial) -> dict[str, Any]:
    """The trial's parameters: each searched parameter the model or the train block reads, sampled once."""
    names = frozenset(k for k in spec.dists if k in spec.model_names)
    overrides = _Suggested(spec, trial, names)
    expand(spec.module, spec.model, overrides, spec.spec_file)
    params = dict(overrides.values)
    for name in train_params_read(spec.train):
        if name in spec.dists and name in spec.train_names:
            params[name] = suggest(spec.dists[name], trial)
    return params


def train_params_read(train: n.DirectiveDef) -> list[str]:
    """The train block's parameters that its settings read, directly or through another parameter's default."""
    by_name = {p.name: p for p in train.params}
    order: list[str] = []
    pending = [name for s in train.settings if not s.is_binding for v in s.values for name in _names(v)]
    while pending:
        name = pending.pop(0)
        if name in by_name and name not in order:
            order.append(name)
            if by_name[name].default is not None:
                pending.extend(_names(by_name[name].default))
    return order


def _names(expr: n.Expr) -> list[str]:
    if isinstance(expr, n.NameRef):
        return [expr.name]
    if isinstance(expr, (n.TupleExpr, n.ListExpr)):
        return [x for item in expr.items for x in _names(item)]
    if isinstance(expr, n.BinOp):
        return _names(expr.left) + _names(expr.right)
    if isinstance(expr, n.UnaryOp):
        return _names(expr.operand)
    if isinstance(expr, n.Call):
        return [x for arg in expr.args for x in _names(arg.value)]
    return []


# ---- Optuna's samplers and pruners ----------------------------------------------------

def study_seed(spec: SearchSpec, study_name: str) -> int:
    """The search's seed, or one fixed by the study's name, so every process of a study agrees on it."""
    return spec.seed if spec.seed is not None else zlib.crc32(study_name.encode()) % (2 ** 31)


def make_sampler(spec: SearchSpec, study_name: str, trial_number: int | None = None, parallel: bool = False):
    """The strategy's Optuna sampler. Each trial's sampler is seeded by the search's seed and the trial's
    number: reproducible, and different in every process of a parallel search."""
    import optuna

    base = spec.seed
    seed = None if base is None else base + (trial_number or 0)
    if spec.strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.strategy == "grid":
        return _grid_sampler(spec, seed)
    if spec.strategy == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=min(5, max(1, spec.trials // 5)),
                                            warn_independent_sampling=False)
    if spec.strategy == "qmc":
        return optuna.samplers.QMCSampler(seed=study_seed(spec, study_name), scramble=True,
                                          warn_independent_sampling=False, warn_asynchronous_seeding=False)
    # TPE: a third of a small budget explores at random (Optuna's default of 10 would be all of it);
    # multivariate with groups models how parameters act together, conditional ones included
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(3, spec.trials // 3)),
                                      multivariate=True, group=True, constant_liar=parallel)


def _grid_sampler(spec: SearchSpec, seed: int | None):
    import optuna

    class GridSampler(optuna.samplers.GridSampler):
        """Optuna's grid; the workers stop by the budget and ``is_exhausted``, not ``study.stop()``
        (which only works inside ``study.optimize``)."""

        def after_trial(self, study, trial, state, values) -> None:
            return None

    return GridSampler(spec.grid_space(), seed=seed)


def make_pruner(spec: SearchSpec, epochs: int):
    import optuna

    if spec.prune == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=min(5, max(1, spec.trials // 4)),
                                           n_warmup_steps=max(0, epochs // 4))
    if spec.prune == "hyperband":
        return _hyperband(min_resource=1, max_resource=max(1, epochs), reduction_factor=3)
    return optuna.pruners.NopPruner()


def _hyperband(**kwargs):
    """Optuna's HyperbandPruner, which prunes each trial within its bracket as it always does.

    Wrapped, because Optuna shows the sampler of a study whose pruner *is* a
    HyperbandPruner only the trials of the new trial's bracket: with a budget of
    tens of trials that leaves TPE a handful to learn from. Here it learns from all.
    """
    import optuna

    class Hyperband(optuna.pruners.BasePruner):
        def __init__(self):
            self.inner = optuna.pruners.HyperbandPruner(**kwargs)

        def prune(self, study, trial) -> bool:
            return self.inner.prune(study, trial)

    return Hyperband()


def objective_value(metrics: dict[str, Any], objective: str) -> float | None:
    """The objective in a run's metrics.json: the final (or restored best) epoch's value; None if not logged."""
    part, key = ("validation", objective[4:]) if objective.startswith("val_") else ("train", objective)
    values = metrics.get(part) or {}
    value = values.get(key)
    return None if value is None else float(value)
