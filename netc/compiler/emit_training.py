"""Stage 6, continued: train, search and ensemble directives as plain Python (``netc emit --all``).

Appended to the model's module by ``emit_python``: a ``train`` block becomes
loader functions and ``train(x, y, ...)`` (``compile`` and ``fit`` as the
spec says), a ``search`` an Optuna objective and ``search()``, an
``ensemble`` a function that trains its members on part of the data and
weights their predictions on the rest with scikit-learn and SciPy. The code
needs no netc; Optuna, scikit-learn, SciPy and the data packages are
imported inside the functions that use them, so the module still runs as a
script without them. Directives of other models of the file are left out
(emit those models with ``--model``).
"""
from __future__ import annotations

from pathlib import PurePath
from typing import Any

from netc.catalog import training as cat
from netc.compiler import nodes as n
from netc.compiler.evaluate import CallValue, EvalError, evaluate, evaluate_call
from netc.pyformat import Bracket, Text, call, flat, identifier, lines, literal, literal_doc, seq, string

TRAIN_LOCALS = frozenset({"x", "y", "model", "history", "params", "extra_callbacks", "keras", "layers",
                          "build_model", "np"})
SAMPLERS = {"random": "RandomSampler", "tpe": "TPESampler", "grid": "GridSampler", "cmaes": "CmaEsSampler",
            "qmc": "QMCSampler"}
PRUNERS = {"median": "MedianPruner", "hyperband": "HyperbandPruner"}
LOADER_FUNCTIONS = {"data": "load_data", "test_data": "load_test_data", "validation_data": "load_validation_data"}


class _Function:
    """The lines of one function, each statement laid out as ruff would."""

    def __init__(self, header, docstring: str, more: str = ""):
        docstring, more = _docstring_safe(docstring), _docstring_safe(more)
        self.out = lines(header)
        if more:
            self.out += [f'    """{docstring}', ""] + [f"    {line}" for line in more.split("\n")] + ['    """']
        else:
            self.out.append(f'    """{docstring}"""')

    def imports(self, *modules: str) -> "_Function":
        """Local imports, then the blank line ruff puts after them."""
        for module in modules:
            self.add(module)
        return self.blank()

    def add(self, doc, depth: int = 1) -> "_Function":
        self.out.extend(lines(doc, depth))
        return self

    def blank(self) -> "_Function":
        self.out.append("")
        return self

    def text(self) -> str:
        return "\n".join(self.out)


class DirectiveEmitter:
    def __init__(self, module: n.Module, model: n.ModelDef, emitter):
        self.module = module
        self.model = model
        self.emitter = emitter
        self.file = emitter.graph.file
        self.train = _named(module, "train", model.name)
        self.search = _named(module, "search", model.name)
        self.ensembles = module.of_kind("ensemble")
        self.model_names = emitter.model_parameter_names()
        self.sections: list[str] = []

    # -- the whole
    def code(self) -> str:
        if self.train is not None:
            self._train()
        if self.search is not None and self.train is not None:
            self._search()
        for ensemble in self.ensembles:
            self._ensemble(ensemble)
        if not self.sections:
            return f"# {self.file} has no train, search or ensemble directive for model {self.model.name}."
        return "\n\n\n".join(self.sections)

    # -- train
    def _train(self) -> None:
        train = self.train
        settings = _settings(train)
        self.train_names: dict[str, str] = {}
        taken = set(TRAIN_LOCALS) | set(self.model_names.values())
        for p in train.params:
            self.train_names[p.name] = identifier(p.name, taken)
            taken.add(self.train_names[p.name])
        env = self._train_env()
        reshape = self._input_reshape(settings)
        if reshape is not None:
            self.sections.append(reshape)
        for key, function in LOADER_FUNCTIONS.items():
            if key in settings:
                self.sections.append(self._loader(function, key, settings[key].values[0], env,
                                                  reshape is not None))
        self.sections.append(self._train_function(settings))
        if "test_data" in settings:
            fn = _Function(seq("def evaluate", Bracket("(", (Text("model"),), ")"), ":"),
                           "The trained model's loss and metrics on test_data.")
            fn.add("x, y = load_test_data()").add("return model.evaluate(x, y, return_dict=True)")
            self.sections.append(fn.text())

    def _train_env(self) -> dict[str, Any]:
        env: dict[str, Any] = {}
        for p in self.train.params:
            if p.default is not None:
                try:
                    env[p.name] = evaluate(p.default, env)
                except EvalError:
                    pass
        return env

    def _input_reshape(self, settings) -> str | None:
        """``fit_input``: samples reshaped to the model's one input, when its shape is static."""
        inputs = self.emitter.graph.inputs
        if len(inputs) != 1 or inputs[0].shape is None or None in inputs[0].shape:
            return None
        data = settings.get("data")
        value = self._value(data.values[0], self._train_env()) if data else None
        if isinstance(value, CallValue) and value.func == "images":
            return None
        shape = tuple(inputs[0].shape)
        fn = _Function(seq("def fit_input", Bracket("(", (Text("x"),), ")"), ":"),
                       f"Samples shaped as the model's input {literal(shape)} (a flat sample gets its axes).")
        dims = (Text("len(x)"), *(Text(str(d)) for d in shape))
        fn.add(seq("return x.reshape", Bracket("(", (Bracket("(", dims, ")"),), ")")))
        return fn.text()

    def _loader(self, function: str, key: str, expr: n.Expr, env: dict[str, Any], reshape: bool) -> str:
        value = self._value(expr, env)
        if not isinstance(value, CallValue) or value.func not in cat.LOADERS:
            fn = _Function(seq(f"def {function}", Text("():")), f"{key}: not a loader netc knows.")
            return fn.add('raise NotImplementedError("load the data here")').text()
        args = _bound(cat.LOADERS[value.func], value)
        shown = self._call_text(expr)
        fn = _Function(seq(f"def {function}", Text("():")), f"{key} {shown}: (x, y) as numpy arrays.")
        fit = (lambda x: f"fit_input({x})") if reshape else (lambda x: x)
        getattr(self, f"_load_{value.func}")(fn, args, fit)
        return fn.text()

    def _load_mnist1d(self, fn: _Function, args: dict, fit) -> None:
        test = args["split"] == "test"
        fn.imports("from mnist1d.data import get_dataset_args, make_dataset  # pip install mnist1d")
        fn.add("args = get_dataset_args()")
        seed = 42 if args["seed"] is None else args["seed"]
        samples = 5000 if args["num_samples"] is None else args["num_samples"]
        fn.add(f"args.seed, args.num_samples = {literal(seed)}, {literal(samples)}")
        fn.add("data = make_dataset(args)  # generated locally, not downloaded")
        suffix = "_test" if test else ""
        fn.add(f'x = data["x{suffix}"].astype("float32")')
        fn.add(f'y = data["y{suffix}"].astype("int32")')
        fn.add(f"return {fit('x')}, y")

    def _load_digits(self, fn: _Function, args: dict, fit) -> None:
        fn.imports("import numpy as np", "from sklearn.datasets import load_digits")
        fn.add("digits = load_digits()")
        fn.add('x = (digits.images / 16.0).astype("float32")')
        fn.add("x = x[..., None]" if args["as_images"] else "x = x.reshape(len(x), -1)")
        fn.add('y = digits.target.astype("int32")')
        fn.add("order = np.random.RandomState(0).permutation(len(x))  # a fixed 80/20 split")
        fn.add("cut = int(0.8 * len(x))")
        fn.add({"train": "chosen = order[:cut]", "test": "chosen = order[cut:]", "all": "chosen = order"}
               [args["split"]])
        fn.add(f"return {fit('x[chosen]')}, y[chosen]")

    def _load_npz(self, fn: _Function, args: dict, fit) -> None:
        fn.imports("import numpy as np")
        fn.add(seq("with ", call("np.load", [string(self._data_path(args["path"])), "allow_pickle=False"]),
                   " as archive:"))
        x_key, y_key = string(args["x"]), string(args["y"])
        fn.add(f"return {fit(f'archive[{x_key}]')}, archive[{y_key}]", 2)

    def _load_csv(self, fn: _Function, args: dict, fit) -> None:
        target = string(args["target"])
        fn.imports("import csv", "import numpy as np")
        fn.add(seq("with ", call("open", [string(self._data_path(args["path"])), 'newline=""', 'encoding="utf-8"']),
                   " as f:"))
        fn.add("rows = list(csv.DictReader(f))", 2)
        if args["features"] is None:
            fn.add(f"features = [name for name in rows[0] if name != {target}]")
        else:
            fn.add(seq("features = ", literal_doc(list(args["features"]))))
        fn.add('x = np.array([[float(row[k]) for k in features] for row in rows], dtype="float32")')
        fn.add(f"labels = [row[{target}] for row in rows]")
        fn.add("try:")
        fn.add("y = np.array([float(label) for label in labels])", 2)
        fn.add("except ValueError:  # text labels: class indices in sorted order")
        fn.add("classes = sorted(set(labels))", 2)
        fn.add("y = np.array([classes.index(label) for label in labels])", 2)
        fn.add(f"return {fit('x')}, y")

    def _load_images(self, fn: _Function, args: dict, fit) -> None:
        kwargs = [f"image_size={literal(args['image_size'])}", f"color_mode={string(args['color_mode'])}"]
        for key in ("validation_split", "subset", "seed"):
            if args[key] is not None:
                kwargs.append(f"{key}={literal(args[key])}")
        fn.add(seq("dataset = ", call("keras.utils.image_dataset_from_directory",
                                      [string(self._data_path(args["directory"])), *kwargs])))
        fn.add("return dataset, None  # a tf.data.Dataset of (images, labels) batches")

    def _data_path(self, raw: str) -> str:
        """A data path of the spec (relative to the spec's folder) as seen from the working folder."""
        folder = PurePath(self.file).parent
        return (folder / raw).as_posix() if str(folder) not in ("", ".") else raw

    def _train_function(self, settings) -> str:
        params = [Text("x"), Text("y")]
        names = self.train_names
        for p in self.train.params:
            default = literal_doc(self._train_env().get(p.name)) if p.default is not None else None
            if default is None:
                params.append(Text(names[p.name]))
            else:
                annotation = {"int": "int", "float": "float", "bool": "bool", "str": "str"}.get(p.type or "")
                params.append(seq(f"{names[p.name]}: {annotation} = " if annotation else f"{names[p.name]}=",
                                  self._expr(p.default, {})))
        params += [Text("extra_callbacks=()"), Text("**params")]
        header = seq("def train", Bracket("(", tuple(params), ")"), ":")
        fn = _Function(header, f"train {self.train.name}: build_model(**params), compiled and fitted as the spec says.",
                       "Returns the trained model and its History.")
        if "seed" in settings:
            fn.add(seq("keras.utils.set_random_seed", Bracket("(", (self._setting(settings["seed"]),), ")")))
        fn.add("model = build_model(**params)")
        compile_args = [seq("optimizer=", self._optimizer(settings.get("optimizer")))]
        for key in ("loss", "metrics", "loss_weights"):
            if key in settings:
                compile_args.append(seq(f"{key}=", self._setting(settings[key])))
        fn.add(call("model.compile", compile_args))
        fit_args: list = [Text("x"), Text("y")]
        for key in ("epochs", "batch_size", "validation_split", "shuffle", "class_weight", "steps_per_epoch"):
            if key in settings and not (key == "validation_split" and "validation_data" in settings):
                fit_args.append(seq(f"{key}=", self._setting(settings[key])))
        if "validation_data" in settings:
            fit_args.append(Text("validation_data=load_validation_data()"))
        callbacks: list = []
        if "callbacks" in settings:
            value = settings["callbacks"].values[0]
            items = value.items if isinstance(value, n.ListExpr) else (value,)
            callbacks = [self._expr(item, names) for item in items]
        fit_args.append(seq("callbacks=", Bracket("[", (*callbacks, Text("*extra_callbacks")), "]")))
        fn.add(seq("history = ", call("model.fit", fit_args)))
        fn.add("return model, history")
        return fn.text()

    def _optimizer(self, setting: n.Setting | None):
        if setting is None:
            return Text('"rmsprop"')  # Keras's default
        return self._expr(setting.values[0], self.train_names)

    def _setting(self, setting: n.Setting):
        return self._expr(setting.values[0], getattr(self, "train_names", {}))

    # -- search
    def _search(self) -> None:
        search = self.search
        settings = _settings(search)
        objective = self._word(settings.get("objective")) or "val_loss"
        direction = (settings["objective"].direction if "objective" in settings else None) or (
            "minimize" if "loss" in objective else "maximize")
        prune = self._word(settings.get("prune")) or "none"
        strategy = self._word(settings.get("strategy")) or "tpe"
        if prune != "none":
            self.sections.append(REPORT_TO_TRIAL)
        names = {**self.model_names, **self.train_names}
        suggestions = []
        grid: list = []
        for binding in (s for s in search.settings if s.is_binding):
            py = names.get(binding.key, binding.key)  # trial.params then fit train(**params)
            suggestion, values = self._suggestion(binding, py)
            suggestions.append(seq(string(py), ": ", suggestion))
            grid.append(seq(string(py), ": ", values if values is not None else Text("[]")))
        fn = _Function(seq("def objective", Bracket("(", (Text("trial"),), ")"), ":"),
                       f"One trial of search {search.name}: sample, train, score by {objective}.")
        fn.add(seq("params = ", Bracket("{", tuple(suggestions), "}")))
        fn.add("x, y = load_data()")
        extra = [f"extra_callbacks=[ReportToTrial(trial, {string(objective)})]"] if prune != "none" else []
        fn.add(seq("_, history = ", call("train", ["x", "y", *extra, "**params"])))
        best = "max" if direction == "maximize" else "min"
        fn.add(f"return {best}(history.history[{string(objective)}])  # its best epoch")
        self.sections.append(fn.text())

        sampler_args: list = []
        if strategy == "grid":
            sampler_args.append(Bracket("{", tuple(grid), "}"))
        if "seed" in settings:
            sampler_args.append(seq("seed=", self._setting(settings["seed"])))
        study_args = [f"direction={string(direction)}",
                      seq("sampler=", call(f"optuna.samplers.{SAMPLERS.get(strategy, 'TPESampler')}", sampler_args))]
        if prune in PRUNERS:
            study_args.append(seq("pruner=", call(f"optuna.pruners.{PRUNERS[prune]}", [])))
        optimize = [Text("objective")]
        for key, arg in (("trials", "n_trials"), ("timeout", "timeout"), ("workers", "n_jobs")):
            if key in settings:
                optimize.append(seq(f"{arg}=", self._setting(settings[key])))
        what = f"{self._setting_text(settings, 'trials')} trials" if "trials" in settings else "trials"
        fn = _Function(Text("def search():"), f"search {search.name}: {what} ({strategy}), to {direction} "
                                               f"{objective}; returns the Optuna study.")
        fn.imports("import optuna")
        fn.add(seq("study = ", call("optuna.create_study", study_args)))
        fn.add(call("study.optimize", optimize))
        fn.add("return study")
        self.sections.append(fn.text())

    def _suggestion(self, binding: n.Setting, py: str):
        """``trial.suggest_...(...)`` for one searched parameter, and its values for a grid."""
        expr = binding.values[0]
        try:  # the call at the top of a binding is a distribution, even when it is named int
            value = evaluate_call(expr, {}) if isinstance(expr, n.Call) else evaluate(expr, {})
        except EvalError:
            value = None
        name = string(py)
        if not isinstance(value, CallValue):
            return Text(flat(self._expr(expr, {}))), None
        if value.func == "choice":
            choices = Bracket("[", tuple(self._expr(a.value, {}) for a in expr.args), "]")
            return call("trial.suggest_categorical", [name, choices]), choices
        args = _bound(cat.DISTRIBUTIONS[value.func], value)
        low, high = literal(args["low"]), literal(args["high"])
        if value.func == "int":
            extra = [f"step={literal(args['step'])}"] if args["step"] != 1 else []
            extra += ["log=True"] if args["log"] else []
            grid = Text(f"list(range({low}, {high} + 1, {literal(args['step'])}))")
            return call("trial.suggest_int", [name, low, high, *extra]), grid
        extra = [f"step={literal(args['step'])}"] if args.get("step") is not None else []
        extra += ["log=True"] if value.func == "loguniform" or args.get("log") else []
        return call("trial.suggest_float", [name, low, high, *extra]), None

    # -- ensemble
    def _ensemble(self, ensemble: n.DirectiveDef) -> None:
        settings = _settings(ensemble)
        members = settings["members"].values if "members" in settings else ()
        weights = self._word(settings.get("weights")) or "uniform"
        objective = self._word(settings.get("objective")) or "val_loss"
        holdout = self._value(settings["holdout"].values[0], {}) if "holdout" in settings else 0.2
        seed = self._value(settings["seed"].values[0], {}) if "seed" in settings else 0
        loss = self._value(_settings(self.train)["loss"].values[0], {}) if self.train and "loss" in _settings(
            self.train) else "sparse_categorical_crossentropy"
        classify = isinstance(loss, str) and "crossentropy" in loss
        body: list = []
        written: list[str] = []
        skipped: list[str] = []
        for expr in members:
            text = self._call_text(expr)
            member = self._member(expr, classify)
            if member is None:
                skipped.append(text)
                continue
            written.append(text)
            body.extend(member)
        if not written:
            return
        function = "ensemble_" + _snake(ensemble.name)
        fn = _Function(Text(f"def {function}():"), f"ensemble {ensemble.name}: its members and their weights.",
                       f"Members: {', '.join(written)}.\n"
                       f"Weights: {weights}, on {objective} over a holdout of {literal(holdout)} of the data.")
        imports = ["import numpy as np"] + (["from scipy.optimize import minimize"] if weights == "nelder_mead" else [])
        imports.append("from sklearn.model_selection import train_test_split")
        imports += sorted({f"from {p} import {c}" for p, c in (self._tree_class(e, classify) for e in members
                                                               if self._is_tree(e))})
        fn.imports(*imports)
        fn.add("x, y = load_data()")
        fn.add(seq("x_fit, x_holdout, y_fit, y_holdout = ", call("train_test_split", [
            "x", "y", f"test_size={literal(holdout)}", f"random_state={literal(seed)}"])))
        fn.add("members = []  # (name, predict) pairs")
        if any(isinstance(e, n.Call) and e.receiver is not None for e in members if self._member_ok(e)):
            fn.add("study = search()")
        for doc in body:
            fn.add(*doc) if isinstance(doc, tuple) else fn.add(doc)
        fn.add("predictions = [predict(x_holdout) for _, predict in members]")
        fn.blank()
        fn.add("def blend(weights):", 1)
        fn.add("weights = np.asarray(weights, dtype=float) / np.sum(weights)", 2)
        fn.add("return sum(w * p for w, p in zip(weights, predictions))", 2)
        fn.blank()
        fn.add("def score(blended):", 1)
        for line in _score_lines(objective, classify):
            fn.add(line, 2)
        fn.blank()
        if weights == "nelder_mead":
            fn.add("def softmax(z):", 1)
            fn.add("return np.exp(z - z.max()) / np.exp(z - z.max()).sum()", 2)
            fn.blank()
            fn.add(seq("found = ", call("minimize", [
                "lambda z: score(blend(softmax(z)))", "np.zeros(len(members))", 'method="Nelder-Mead"'])))
            fn.add("weights = softmax(found.x)")
        elif weights == "caruana":
            iterations = self._value(settings["iterations"].values[0], {}) if "iterations" in settings else 100
            fn.add("# greedy selection with replacement (Caruana et al., 2004)")
            fn.add("counts = np.zeros(len(members))")
            fn.add(f"for _ in range({literal(iterations)}):")
            fn.add(seq("best = ", call("min", [
                "range(len(members))", "key=lambda i: score(blend(counts + np.eye(len(members))[i]))"])), 2)
            fn.add("counts[best] += 1", 2)
            fn.add("weights = counts / counts.sum()")
        else:
            fn.add("weights = np.ones(len(members)) / len(members)")
        fn.add("return members, weights")
        if skipped:
            fn.out.insert(len(lines(Text(f"def {function}():"))) + 1,
                          "    # left out, another model's: " + ", ".join(skipped))
        self.sections.append(fn.text())

    def _member_ok(self, expr: n.Expr) -> bool:
        return isinstance(expr, n.Call) and (expr.receiver == self.model.name and self.search is not None
                                             or expr.receiver is None and (expr.func in cat.TREES
                                                                           or expr.func == self.model.name
                                                                           and self.train is not None))

    def _member(self, expr: n.Expr, classify: bool) -> list | None:
        if isinstance(expr, n.NameRef):
            expr = n.Call(expr.span, expr.name, expr.span, ())
        if not self._member_ok(expr):
            return None
        if expr.receiver is not None:
            k = self._value(expr.args[0].value, {}) if expr.args else 1
            reverse = "True" if self._search_direction() == "maximize" else "False"
            return [
                Text("done = [t for t in study.trials if t.value is not None]"),
                seq("for trial in ", call("sorted", ["done", "key=lambda t: t.value", f"reverse={reverse}"]),
                    f"[:{literal(k)}]:"),
                ("model, _ = train(x_fit, y_fit, **trial.params)", 2),
                (f'members.append((f"{self.model.name} trial {{trial.number}}", model.predict))', 2),
            ]
        if expr.func in cat.TREES:
            return self._tree_member(expr, classify)
        names = {**self.model_names, **getattr(self, "train_names", {})}
        kwargs = [seq(names.get(a.name, a.name), "=", self._expr(a.value, {})) for a in expr.args if a.name]
        return [
            seq("model, _ = ", call("train", ["x_fit", "y_fit", *kwargs])),
            seq("members.append", Bracket("(", (Bracket("(", (Text(string(self._call_text(expr))),
                                                              Text("model.predict")), ")"),), ")")),
        ]

    def _is_tree(self, expr: n.Expr) -> bool:
        return isinstance(expr, n.Call) and expr.receiver is None and expr.func in cat.TREES

    def _tree_class(self, expr: n.Call, classify: bool) -> tuple[str, str]:
        kind = "Classifier" if classify else "Regressor"
        classes = {"GradientBoosting": ("sklearn.ensemble", f"HistGradientBoosting{kind}"),
                   "RandomForest": ("sklearn.ensemble", f"RandomForest{kind}"),
                   "LightGBM": ("lightgbm", f"LGBM{kind}"), "XGBoost": ("xgboost", f"XGB{kind}")}
        return classes[expr.func]

    def _tree_member(self, expr: n.Call, classify: bool) -> list:
        _, name = self._tree_class(expr, classify)
        kwargs = [seq(a.name, "=", self._expr(a.value, {})) for a in expr.args if a.name]
        var = _snake(expr.func)
        predict = "predict_proba" if classify else "predict"
        return [
            seq(f"{var} = ", call(name, kwargs), ".fit", Bracket("(", (Text("x_fit.reshape(len(x_fit), -1)"),
                                                                     Text("y_fit")), ")")),
            seq("members.append", Bracket("(", (Bracket("(", (
                Text(string(self._call_text(expr))),
                Text(f"lambda x, m={var}: m.{predict}(x.reshape(len(x), -1))")), ")"),), ")")),
        ]

    def _search_direction(self) -> str:
        settings = _settings(self.search) if self.search else {}
        objective = self._word(settings.get("objective")) or "val_loss"
        return (settings["objective"].direction if "objective" in settings else None) or (
            "minimize" if "loss" in objective else "maximize")

    # -- values
    def _expr(self, expr: n.Expr, names: dict[str, str]):
        return self.emitter.expr(expr, names, self._catalog_call)

    def _catalog_call(self, c: n.Call):
        names = getattr(self, "train_names", {})
        args = [self._expr(a.value, names) for a in c.args if a.name is None]
        args += [seq(a.name, "=", self._expr(a.value, names)) for a in c.args if a.name is not None]
        if c.func in cat.OPTIMIZERS:
            return call(f"keras.optimizers.{cat.OPTIMIZERS[c.func].name}", args)
        if c.func in cat.CALLBACKS:
            return call(f"keras.callbacks.{cat.CALLBACKS[c.func].name}", args)
        return call(c.func, args)

    def _value(self, expr: n.Expr, env: dict[str, Any]) -> Any:
        try:
            return evaluate(expr, env)
        except EvalError:
            return None

    def _word(self, setting: n.Setting | None) -> str | None:
        if setting is None:
            return None
        expr = setting.values[0]
        if isinstance(expr, n.NameRef):
            return expr.name
        if isinstance(expr, n.Literal):
            return "none" if expr.value is None else str(expr.value)
        return None

    def _call_text(self, expr: n.Expr) -> str:
        span = expr.span
        text = self.emitter._source(span)
        return " ".join(text.split()) if text else getattr(expr, "func", "?")

    def _setting_text(self, settings, key: str) -> str:
        return flat(self._setting(settings[key]))


def _docstring_safe(text: str) -> str:
    """Spec text (a loader call, a member) made safe inside a triple-quoted docstring."""
    text = text.replace("\\", "\\\\").replace('"""', "'''")
    return text + " " if text.endswith('"') else text


def _named(module: n.Module, kind: str, name: str):
    return next((d for d in module.of_kind(kind) if d.name == name), None)


def _settings(directive: n.DirectiveDef | None) -> dict[str, n.Setting]:
    found: dict[str, n.Setting] = {}
    for s in directive.settings if directive else ():
        if not s.is_binding:
            found.setdefault(s.key, s)
    return found


def _bound(spec, value: CallValue) -> dict[str, Any]:
    """A catalog call's arguments by name, defaults filled."""
    args = {a.name: a.default for a in spec.args}
    names = [a.name for a in spec.args]
    for i, arg in enumerate(a for a in value.args if a.name is None):
        if i < len(names):
            args[names[i]] = arg.value
    for arg in value.args:
        if arg.name is not None:
            args[arg.name] = arg.value
    return args


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _score_lines(objective: str, classify: bool) -> list[str]:
    """The body of ``score(blended)``: lower is better."""
    if "accuracy" in objective:
        return ["return -np.mean(np.argmax(blended, axis=-1) == y_holdout)  # accuracy, negated"]
    if classify:
        return ["picked = blended[np.arange(len(y_holdout)), y_holdout.astype(int)]",
                "return -np.mean(np.log(np.clip(picked, 1e-7, 1.0)))  # cross-entropy"]
    return ["return np.mean((np.ravel(blended) - y_holdout) ** 2)  # mean squared error"]


REPORT_TO_TRIAL = '''class ReportToTrial(keras.callbacks.Callback):
    """Reports the objective to Optuna after each epoch; stops the trial when the pruner says so."""

    def __init__(self, trial, monitor):
        super().__init__()
        self.trial, self.monitor = trial, monitor

    def on_epoch_end(self, epoch, logs=None):
        import optuna

        self.trial.report(logs[self.monitor], epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned()'''


def emit_directives(module: n.Module, model: n.ModelDef, emitter) -> str:
    """The entry point: the file's directives for ``model`` as Python, to append to its module."""
    return DirectiveEmitter(module, model, emitter).code()
