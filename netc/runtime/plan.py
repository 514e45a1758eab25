"""A spec's train block, resolved into plain data: what to load, build, compile and fit.

Resolving is framework-free and runs every static check first, with the
parameters bound, so a run never starts on a spec that ``netc check`` would
reject for these values. Loader, optimizer and callback calls stay catalog
names with bound arguments; only ``keras_objects`` turns them into Keras objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from netc import diagnostics as dg
from netc.catalog import training as cat
from netc.compiler import nodes as n
from netc.compiler.check import bind_arguments
from netc.compiler.datafit import call_text
from netc.compiler.definitions import check_definitions
from netc.compiler.directives import check_directives
from netc.compiler.evaluate import CallValue, EvalError, evaluate
from netc.compiler.expand import check_param_value
from netc.compiler.parser import parse
from netc.compiler.pipeline import model_ir, select_model
from netc.diagnostics import Diagnostic, SpecError, Span
from netc.runtime.errors import DataError, data_error


@dataclass(frozen=True)
class LoaderCall:
    """One loader call of a train block, its arguments bound by name with defaults filled."""

    name: str
    args: dict[str, Any]
    span: Span          # the call in the spec: data errors point here
    text: str           # the call as written, for messages
    spec_file: str
    base_dir: Path      # file paths are relative to the spec's folder

    def path(self, raw: str) -> Path:
        return self.base_dir / raw

    def error(self, code: str, message: str, hint: str | None = None) -> DataError:
        return data_error(code, message, self.span, self.spec_file, hint)


@dataclass(frozen=True)
class CatalogCall:
    """An optimizer or callback: its catalog name and the arguments the spec wrote, by name."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainPlan:
    spec_file: str
    text: str
    module: n.Module
    model: n.ModelDef
    train: n.DirectiveDef
    model_params: dict[str, Any]   # every model parameter, bound
    train_params: dict[str, Any]   # every train parameter, bound
    ir: dict
    data: LoaderCall
    validation_data: LoaderCall | None
    test_data: LoaderCall | None
    optimizer: CatalogCall
    loss: Any
    metrics: list[str]
    epochs: int
    batch_size: int | None
    validation_split: float
    callbacks: list[CatalogCall]
    seed: int | None
    shuffle: bool
    class_weight: Any
    loss_weights: Any
    steps_per_epoch: int | None
    epochs_overridden: bool = False


def plan_training(text: str, file: str, model: str | None = None, params: dict[str, Any] | None = None,
                  epochs: int | None = None) -> TrainPlan:
    """Resolve the train block of ``model`` with ``params`` bound; raises SpecError with every problem."""
    params = dict(params or {})
    module, diagnostics = parse(text, file)
    diagnostics += check_definitions(module)
    if dg.has_errors(diagnostics):
        raise SpecError(diagnostics)
    model_def = _choose_model(module, model)
    train = _train_of(module, model_def)
    model_params, train_params = _split_params(model_def, train, params, file)
    ir, graph, found = model_ir(text, file, model_def.name, model_params)
    if ir is None:
        raise SpecError(found)
    bound_train = _bind_train(train, train_params)
    bound_module = replace(module, definitions=tuple(bound_train if d is train else d for d in module.definitions))
    found = [d for d in check_directives(bound_module, {model_def.name: graph}) if _inside(d, train.span)]
    if dg.has_errors(found):
        raise SpecError(found)
    env = _env(bound_train, file)
    values = _settings(bound_train, env, file)
    base_dir = Path(file).resolve().parent
    return TrainPlan(
        spec_file=file, text=text, module=module, model=model_def, train=train,
        model_params=dict(graph.params), train_params=env, ir=ir,
        data=_loader(values["data"], file, base_dir),
        validation_data=_loader(values.get("validation_data"), file, base_dir),
        test_data=_loader(values.get("test_data"), file, base_dir),
        optimizer=_optimizer(values.get("optimizer", "RMSprop")),
        loss=values["loss"], metrics=list(values.get("metrics", [])),
        epochs=epochs if epochs is not None else values.get("epochs", 1),
        batch_size=values.get("batch_size"), validation_split=float(values.get("validation_split", 0.0)),
        callbacks=[_catalog_call(c, cat.CALLBACKS) for c in _as_list(values.get("callbacks", []))],
        seed=values.get("seed"), shuffle=values.get("shuffle", True), class_weight=values.get("class_weight"),
        loss_weights=values.get("loss_weights"), steps_per_epoch=values.get("steps_per_epoch"),
        epochs_overridden=epochs is not None,
    )


def _choose_model(module: n.Module, name: str | None) -> n.ModelDef:
    """The named model; without a name, the only model, or the only one with a train block."""
    trained = {t.name for t in module.of_kind("train")}
    if name is None:
        candidates = [m for m in module.of_kind("model") if m.name in trained]
        if len(module.of_kind("model")) > 1 and len(candidates) == 1:
            return candidates[0]
    chosen, problem = select_model(module, name)
    if problem is not None:
        if trained:
            problem = replace(problem, hint="pass --model NAME; models with a train block: " + ", ".join(sorted(trained)))
        raise SpecError([problem])
    return chosen


def _train_of(module: n.Module, model: n.ModelDef) -> n.DirectiveDef:
    for train in module.of_kind("train"):
        if train.name == model.name:
            return train
    raise SpecError([dg.make("NC207", f"model '{model.name}' has no train block", model.name_span, module.file,
                             f"add 'train {model.name} {{ data mnist1d() loss \"sparse_categorical_crossentropy\" }}'")])


def _split_params(model: n.ModelDef, train: n.DirectiveDef, params: dict[str, Any], file: str
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bind each given parameter to the model or its train block by name (as a search does)."""
    model_names = {p.name for p in model.params}
    train_names = {p.name for p in train.params}
    problems = []
    for name in params:
        if name not in model_names | train_names:
            guess = dg.did_you_mean(name, model_names | train_names)
            problems.append(dg.make("NC108", f"neither model '{model.name}' nor its train block has a parameter "
                                             f"'{name}'" + (f"; did you mean '{guess}'?" if guess else ""),
                                    model.name_span, file,
                                    "parameters: " + (", ".join(sorted(model_names | train_names)) or "none")))
    if problems:
        raise SpecError(problems)
    return ({k: v for k, v in params.items() if k in model_names},
            {k: v for k, v in params.items() if k in train_names})


def _bind_train(train: n.DirectiveDef, overrides: dict[str, Any]) -> n.DirectiveDef:
    """The train block with each overridden parameter's default replaced by its value, so every check sees it."""
    params = tuple(replace(p, default=n.Literal(p.default.span if p.default else p.span, overrides[p.name]))
                   if p.name in overrides else p for p in train.params)
    return replace(train, params=params)


def _inside(d: Diagnostic, span: Span) -> bool:
    return (span.line, span.column) <= (d.line, d.column) <= (span.end_line, span.end_column)


def _env(train: n.DirectiveDef, file: str) -> dict[str, Any]:
    """The train block's parameters, bound (the checks have already accepted every value)."""
    env: dict[str, Any] = {}
    for param in train.params:
        env[param.name] = check_param_value(param.type, _evaluated(param.default, env, file))
    return env


def _settings(train: n.DirectiveDef, env: dict[str, Any], file: str) -> dict[str, Any]:
    return {s.key: _evaluated(s.values[0], env, file) for s in train.settings if not s.is_binding}


def _evaluated(expr: n.Expr, env: dict[str, Any], file: str) -> Any:
    try:
        return evaluate(expr, env)
    except EvalError as e:  # checked already; kept so a surprise is a diagnostic, not a traceback
        raise SpecError([e.diagnostic(file)]) from None


def _loader(value: CallValue | None, file: str, base_dir: Path) -> LoaderCall | None:
    if value is None:
        return None
    binding = bind_arguments(cat.LOADERS[value.func], value, _ignore)
    return LoaderCall(value.func, binding.with_defaults(), value.span, call_text(value), file, base_dir)


def _optimizer(value: Any) -> CatalogCall:
    if isinstance(value, str):
        canonical = {name.lower(): name for name in cat.OPTIMIZERS}[value.lower()]
        return CatalogCall(canonical)
    return _catalog_call(value, cat.OPTIMIZERS)


def _catalog_call(value: CallValue, table: dict) -> CatalogCall:
    binding = bind_arguments(table[value.func], value, _ignore)
    return CatalogCall(value.func, dict(binding.values))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _ignore(*args, **kwargs) -> None:
    """Binding problems were reported (and refused) by the checks already."""
