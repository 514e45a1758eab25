"""``ensemble_file``: an ensemble directive -> trained members, fitted weights and a run folder.

How the data is used (written into ensemble.json as well):

* the training data of the members' train blocks is split once, seeded and
  stratified, into a member-training part and a validation part (``holdout``,
  default 0.2). Every member, networks and trees alike, trains only on the
  member-training part; a network's train block runs as written on it (its
  ``validation_split`` and callbacks act inside that part). The weights are
  fitted on the members' predictions for the validation part, which no member
  ever saw. With ``folds K`` instead, each member trains K times, on all but
  one fold each time; the weights are fitted on the out-of-fold predictions
  and a member predicts with the mean of its K models.
* ``Model.top(k)`` members take the parameters of the k best trials of the
  model's search (which runs first when it has no study yet) and are trained
  again, like every network member, on the member-training part: the search's
  own models saw the whole training data.
* the test data scores the members and the ensemble; it chooses nothing.

The run folder: ``members/NN-name/`` (``model.keras`` for a network, a tree in
skops's format or its package's own text format, never in a format that runs
code when loaded), ``ensemble.json`` (members, weights, metrics, diversity),
``ensemble.png``. ``load_ensemble(folder).predict(x)`` works in a fresh process.
A run killed half-way keeps its finished members in ``.NAME.partial/`` and the
next run picks them up.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from netc.compiler.pipeline import read_source
from netc.diagnostics import SpecError
from netc.runtime import ensemble_weights as ew
from netc.runtime.ensemble_plan import (
    EnsemblePlan,
    Member,
    member_train_plan,
    plan_ensemble,
)
from netc.runtime.runfolder import MARKER, json_safe, rename_to_free_name

ENSEMBLE_FILE = "ensemble.json"
PLOT_FILE = "ensemble.png"
FORMAT = 1
QUICK_SAMPLES = 1000          # --quick: training samples used (a seeded, stratified subset)
QUICK_EPOCHS = 2
QUICK_TRIALS = 2
QUICK_TREE_ITERATIONS = 20    # boosting iterations or trees
_TREE_SIZE_ARG = {"GradientBoosting": ("max_iter", 100), "RandomForest": ("n_estimators", 100),
                  "LightGBM": ("n_estimators", 100), "XGBoost": ("n_estimators", 100)}


def quick_from_env(quick: bool | None = None) -> bool:
    """--quick, or CI=true in the environment."""
    return bool(quick) or os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def job_root(runs_root: str | Path, quick: bool) -> Path:
    """Where a job's run folders live: quick runs apart, so a full run never resumes a quick one."""
    return Path(runs_root) / "quick" if quick else Path(runs_root)


def default_ensemble_dir(path: str | Path, name: str, runs_root: str | Path = "runs", quick: bool = False) -> Path:
    return job_root(runs_root, quick) / Path(path).stem / f"ensemble-{name}"


@dataclass
class EnsembleResult:
    """What ``ensemble_file`` produced: the ensemble, its report (ensemble.json) and where it was saved."""

    name: str
    run_dir: Path
    report: dict
    resumed: bool = False
    _ensemble: Ensemble | None = None

    @property
    def ensemble(self) -> Ensemble:
        """The fitted ensemble, loaded from the run folder on first use (that imports Keras)."""
        if self._ensemble is None:
            self._ensemble = Ensemble.load(self.run_dir)
        return self._ensemble

    @property
    def weights(self) -> list[float]:
        return self.report["weights"]

    @property
    def metrics(self) -> dict:
        return self.report["metrics"]


# ---- the job -------------------------------------------------------------------------

def ensemble_file(path: str | Path, name: str | None = None, *, epochs: int | None = None, trials: int | None = None,
                  quick: bool = False, out: str | Path | None = None, runs_root: str | Path = "runs",
                  fresh: bool = False, log: Callable[[str], None] | None = None,
                  on_epoch: Callable | None = None) -> EnsembleResult:
    """Train an ensemble directive's members, fit their weights and write the run folder.

    ``epochs`` overrides every network member's epochs, ``trials`` the number of
    trials of a search that must run first; ``quick`` shrinks epochs, trials,
    trees and the training data so the whole job takes a minute or two. A
    complete run folder of the same spec and settings is reused (``fresh``
    retrains), and a partial one's finished members are kept. Raises SpecError
    (DataError for bad data) before anything is trained.
    """
    for label, value in (("epochs", epochs), ("trials", trials)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{label} must be a positive integer, not {value!r}")
    log = log or (lambda message: None)
    text, problem = read_source(path)
    if problem:
        raise SpecError([problem])
    plan = plan_ensemble(text, str(path), name)
    _check_tree_packages(plan)
    if quick and epochs is None:
        epochs = QUICK_EPOCHS
    if quick and trials is None:
        trials = QUICK_TRIALS
    settings = {"quick": quick, "epochs": epochs, "trials": trials}
    key = _job_key(plan, settings)
    final = Path(out) if out is not None else default_ensemble_dir(path, plan.name, runs_root, quick)
    if not fresh:
        done = find_complete(final, key, explicit=out is not None)
        if done is not None:
            log(f"ensemble {plan.name}: finished earlier in {done}; reusing it (--fresh trains it again)")
            return EnsembleResult(plan.name, done, _read_report(done), resumed=True)
    if out is not None and final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise FileExistsError(f"{final} already exists and is not empty")
    job = _Job(plan, Path(path), settings, key, Path(runs_root), log, on_epoch)
    return job.run(final)


def _check_tree_packages(plan: EnsemblePlan) -> None:
    """Every tree member's package is installed, or a diagnostic at the member before anything trains."""
    from netc import diagnostics as dg
    from netc.runtime import trees

    missing = [m for m in plan.members if m.kind == "tree" and not trees.available(m.name)]
    if missing:
        raise SpecError([dg.make("NC209", f"ensemble member {m.name} needs {trees.package(m.name)}, which is not "
                                          "installed", m.span, plan.spec_file,
                                 f"pip install {trees.package(m.name)}" if m.name in ("LightGBM", "XGBoost")
                                 else 'pip install -e ".[trees]"') for m in missing])


def _job_key(plan: EnsemblePlan, settings: dict) -> str:
    return f"{plan.fingerprint}:{json.dumps(settings, sort_keys=True)}:{FORMAT}"


def _is_complete(folder: Path) -> bool:
    return folder.is_dir() and (folder / ENSEMBLE_FILE).is_file() and not (folder / MARKER).exists()


def _read_report(folder: Path) -> dict:
    return json.loads((Path(folder) / ENSEMBLE_FILE).read_text(encoding="utf-8"))


def find_complete(final: Path, key: str, explicit: bool = False) -> Path | None:
    """A complete run folder of the same job: ``final`` or, unless given explicitly, ``final-2``, ``final-3``..."""
    candidates = [final] if explicit else [final] + sorted(
        (p for p in final.parent.glob(f"{final.name}-*") if re.fullmatch(rf"{re.escape(final.name)}-\d+", p.name)),
        key=lambda p: -int(p.name.rsplit("-", 1)[1]))
    for folder in candidates:
        if _is_complete(folder):
            try:
                if _read_report(folder).get("job") == key:
                    return folder
            except (OSError, ValueError):
                continue
    return None


class _Job:
    def __init__(self, plan: EnsemblePlan, path: Path, settings: dict, key: str, runs_root: Path, log, on_epoch):
        self.plan, self.path, self.settings, self.key = plan, path, settings, key
        self.runs_root, self.log, self.on_epoch = runs_root, log, on_epoch
        self.quick = settings["quick"]

    # -- the whole job
    def run(self, final: Path) -> EnsembleResult:
        started = time.perf_counter()
        data = self._data()
        members = self._expand_members()
        self._prepared = {i: self._prepare(member, params, data) for i, (member, params, _, _) in enumerate(members)
                          if member.kind != "tree"}  # every member's spec and data checked before any trains
        partial = final.parent / f".{final.name}.partial"
        self._open_partial(partial)
        try:
            trained = []
            for i, (member, params, label, extra) in enumerate(members):
                self._index = i
                trained.append(self._member(partial, i, len(members), member, params, label, extra, data))
            report = self._fit(trained, data)
            report["seconds"] = round(time.perf_counter() - started, 3)
            (partial / ENSEMBLE_FILE).write_text(json.dumps(json_safe(report), indent=2, allow_nan=False) + "\n",
                                                 encoding="utf-8")
            plot_ensemble(report, partial / PLOT_FILE)
        except BaseException as e:
            (partial / MARKER).write_text(f"this run failed: {type(e).__name__}: {e}\n", encoding="utf-8")
            raise
        (partial / MARKER).unlink()
        run_dir = rename_to_free_name(partial, final)
        return EnsembleResult(self.plan.name, run_dir, _read_report(run_dir))

    def _open_partial(self, partial: Path) -> None:
        """Reuse a partial folder of the same job (its finished members), else start it afresh."""
        job_file = partial / "job.json"
        if partial.exists():
            try:
                same = json.loads(job_file.read_text(encoding="utf-8")).get("job") == self.key
            except (OSError, ValueError):
                same = False
            if same:
                self.log(f"ensemble {self.plan.name}: resuming the unfinished run in {partial}")
                (partial / MARKER).write_text("this run has not finished\n", encoding="utf-8")
                return
            shutil.rmtree(partial)
        (partial / "members").mkdir(parents=True)
        (partial / MARKER).write_text("this run has not finished; its files may be missing or partial\n",
                                      encoding="utf-8")
        job_file.write_text(json.dumps({"job": self.key}) + "\n", encoding="utf-8")

    # -- data
    def _data(self) -> _Data:
        from netc.runtime.loaders import load

        plan = self.plan
        train = load(plan.data)
        test = load(plan.test_data) if plan.test_data is not None else None
        first = member_train_plan(plan, plan.data_from, {}, 1)
        from netc.runtime.fitdata import prepare

        _, y = prepare(train, first.data, first.ir, first.loss)
        y_test = prepare(test, first.test_data, first.ir, first.loss)[1] if test is not None else None
        outputs = first.ir["outputs"]
        units = int(outputs[0]["shape"][-1]) if len(outputs) == 1 and outputs[0]["shape"] else 1
        binary = plan.classify and plan.loss == "binary_crossentropy"
        num_classes = (2 if binary else units) if plan.classify else None
        targets, test_targets = _targets(y, plan.classify), _targets(y_test, plan.classify)
        rng = np.random.RandomState(plan.seed)
        use = np.arange(len(targets))
        if self.quick and len(use) > QUICK_SAMPLES:
            use = np.sort(_stratified_pick(targets, QUICK_SAMPLES / len(use), rng, plan.classify))
        if plan.folds:
            folds = _folds(targets[use], plan.folds, rng, plan.classify)
            parts = [(rng.permutation(use[np.setdiff1d(np.arange(len(use)), f)]), use[f]) for f in folds]
            validation = use
        else:
            held = use[_stratified_pick(targets[use], plan.holdout, rng, plan.classify)]
            rest = np.setdiff1d(use, held)
            parts = [(rng.permutation(rest), np.sort(held))]
            validation = np.sort(held)
        return _Data(train, test, targets, test_targets, parts, validation, num_classes, binary, len(use))

    # -- members
    def _expand_members(self) -> list[tuple[Member, dict, str, dict]]:
        """(member, parameters, label, extra) for each member, with ``top(k)`` resolved to its trials."""
        out = []
        for member in self.plan.members:
            if member.kind == "top":
                for record in self._top_trials(member):
                    extra = {"trial": record.number, "search_value": record.value}
                    out.append((member, dict(record.params), f"{member.name} trial {record.number}", extra))
            elif member.kind == "network":
                out.append((member, dict(member.params), member.text, {}))
            else:
                out.append((member, dict(member.params), member.text, {}))
        return out

    def _top_trials(self, member: Member) -> list:
        try:
            from netc.runtime import search
        except ImportError as e:
            raise RuntimeError(f"{member.text} needs netc's search (netc.runtime.search): {e}") from None
        root = job_root(self.runs_root, self.quick)
        records = _top(search, self.path, member.name, member.k, root)
        if not records:
            self.log(f"{member.text}: no study of {member.name} yet, running its search first")
            search.search_file(self.path, member.name, trials=self.settings["trials"],
                               epochs=self.settings["epochs"], quick=self.quick, runs_root=root)
            records = _top(search, self.path, member.name, member.k, root)
        if not records:
            raise RuntimeError(f"the search of {member.name} finished no trial, so {member.text} has no member")
        if len(records) < member.k:
            self.log(f"{member.text}: the search finished only {len(records)} trials; using those")
        return records[:member.k]

    def _member(self, partial: Path, index: int, count: int, member: Member, params: dict, label: str,
                extra: dict, data: _Data) -> dict:
        folder = partial / "members" / f"{index:02d}-{_slug(label)}"
        record_file = folder / "member.json"
        if record_file.is_file():
            record = json.loads(record_file.read_text(encoding="utf-8"))
            if record.get("label") == label and record.get("params") == json_safe(params):
                self.log(f"member {index + 1}/{count} {label}: finished earlier, reusing it")
                record["validation_predictions"] = np.load(folder / "validation_predictions.npy", allow_pickle=False)
                record["test_predictions"] = (np.load(folder / "test_predictions.npy", allow_pickle=False)
                                              if (folder / "test_predictions.npy").exists() else None)
                return record
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        self.log(f"member {index + 1}/{count} {label}: training")
        started = time.perf_counter()
        if member.kind == "tree":
            record, val, test = self._tree(folder, member, params, data)
        else:
            record, val, test = self._network(folder, member, params, data)
        record.update({"label": label, "kind": "tree" if member.kind == "tree" else "network", "model": member.name,
                       "written": member.text, "params": params, **extra,
                       "seconds": round(time.perf_counter() - started, 3),
                       "folder": f"members/{folder.name}"})
        np.save(folder / "validation_predictions.npy", val, allow_pickle=False)
        if test is not None:
            np.save(folder / "test_predictions.npy", test, allow_pickle=False)
        (folder / "member.json").write_text(json.dumps(json_safe(record), indent=2, allow_nan=False) + "\n",
                                            encoding="utf-8")
        record = json.loads(json.dumps(json_safe(record)))
        record["validation_predictions"], record["test_predictions"] = val, test
        scored = ew.scores(val, data.targets[data.validation], self.plan.classify)
        self.log(f"member {index + 1}/{count} {label}: done in {record['seconds']:.0f}s, validation "
                 + "  ".join(f"{k} {v:.4g}" for k, v in scored.items() if k != "error"))
        return record

    def _prepare(self, member: Member, params: dict, data: _Data) -> tuple:
        """A network member's train plan and its data, fitted to its input: raises SpecError or DataError."""
        from netc.runtime.fitdata import prepare

        tplan = member_train_plan(self.plan, member.name, params, self.settings["epochs"])
        x, y = prepare(data.train, tplan.data, tplan.ir, tplan.loss)
        x_test = (prepare(data.test, tplan.test_data or tplan.data, tplan.ir, tplan.loss)[0]
                  if data.test is not None else None)
        validation = None
        if tplan.validation_data is not None:
            from netc.runtime.loaders import load

            validation = prepare(load(tplan.validation_data), tplan.validation_data, tplan.ir, tplan.loss)
        return tplan, x, y, x_test, validation

    def _network(self, folder: Path, member: Member, params: dict, data: _Data):
        tplan, x, y, x_test, validation = self._prepared.pop(self._index)
        val = np.zeros((len(data.targets),) + self._width(data), dtype=np.float64)
        tests, files, runs = [], [], []
        for j, (fit_idx, pred_idx) in enumerate(data.parts):
            model, run = _train_network(tplan, x[fit_idx], y[fit_idx], validation, j, self.on_epoch)
            name = "model.keras" if len(data.parts) == 1 else f"fold-{j + 1}.keras"
            model.save(folder / name)
            files.append(name)
            runs.append(run)
            val[pred_idx] = _network_output(model, x[pred_idx], data.binary)
            if x_test is not None:
                tests.append(_network_output(model, x_test, data.binary))
        shape = tuple(tplan.ir["inputs"][0]["shape"])
        record = {"files": files, "input_shape": list(shape), "binary": data.binary, "train_params":
                  {**tplan.model_params, **tplan.train_params}, "epochs": tplan.epochs, "runs": runs}
        return record, val[data.validation], (np.mean(tests, axis=0) if tests else None)

    def _tree(self, folder: Path, member: Member, params: dict, data: _Data):
        from netc.runtime import trees

        kwargs = dict(params)
        if self.quick:
            arg, default = _TREE_SIZE_ARG[member.name]
            kwargs[arg] = min(kwargs.get(arg) or default, QUICK_TREE_ITERATIONS)
        x = trees.flat(data.train.x)
        x_test = trees.flat(data.test.x) if data.test is not None else None
        y = data.targets if self.plan.classify else np.asarray(data.train.y, dtype=np.float64)
        if not self.plan.classify and y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        val = np.zeros((len(data.targets),) + self._width(data), dtype=np.float64)
        tests, files = [], []
        for j, (fit_idx, pred_idx) in enumerate(data.parts):
            estimator = trees.fit_tree(trees.make_tree(member.name, kwargs, self.plan.classify, self.plan.seed + j),
                                       x[fit_idx], y[fit_idx])
            part = folder if len(data.parts) == 1 else folder / f"fold-{j + 1}"
            part.mkdir(exist_ok=True)
            files.append(str(Path(part.name if part != folder else ".") / trees.save_tree(member.name, estimator,
                                                                                           part)))
            val[pred_idx] = trees.tree_predict(estimator, x[pred_idx], self.plan.classify, data.num_classes)
            if x_test is not None:
                tests.append(trees.tree_predict(estimator, x_test, self.plan.classify, data.num_classes))
        record = {"files": files, "tree_args": kwargs}
        return record, val[data.validation], (np.mean(tests, axis=0) if tests else None)

    def _width(self, data: _Data) -> tuple:
        if self.plan.classify:
            return (data.num_classes,)
        y = np.asarray(data.train.y)
        return (int(np.prod(y.shape[1:])) if y.ndim > 1 else 1,)

    # -- weights, scores, diversity
    def _fit(self, trained: list[dict], data: _Data) -> dict:
        plan = self.plan
        classify = plan.classify
        y_val = data.targets[data.validation]
        val = [m["validation_predictions"] for m in trained]
        test = [m["test_predictions"] for m in trained]
        has_test = data.test is not None and all(t is not None for t in test)
        fit = ew.fit_weights(plan.weights, val, y_val, plan.objective, classify, plan.iterations)
        labels = [m["label"] for m in trained]
        members = []
        for m, w, v, t in zip(trained, fit.weights, val, test):
            entry = {k: v_ for k, v_ in m.items() if k not in ("validation_predictions", "test_predictions")}
            entry["weight"] = float(w)
            entry["validation"] = ew.scores(v, y_val, classify)
            entry["test"] = ew.scores(t, data.test_targets, classify) if has_test else None
            members.append(entry)
        best = int(fit.details["best_single"])  # the best on validation (ties: the lower log loss)
        blended_val = ew.blend(val, fit.weights)
        metrics = {"validation": ew.scores(blended_val, y_val, classify),
                   "test": ew.scores(ew.blend(test, fit.weights), data.test_targets, classify) if has_test else None}
        uniform = np.full(len(val), 1.0 / len(val))
        baselines = {"uniform": {"validation": ew.scores(ew.blend(val, uniform), y_val, classify),
                                 "test": ew.scores(ew.blend(test, uniform), data.test_targets, classify)
                                 if has_test else None}}
        fold_text = (f"{plan.folds} folds: each member trained {plan.folds} times, on all folds but one; weights "
                     "fitted on the out-of-fold predictions; a member predicts with the mean of its fold models")
        return {
            "format": FORMAT,
            "job": self.key,
            "ensemble": plan.name,
            "spec": plan.spec_file,
            "task": "classification" if classify else "regression",
            "num_classes": data.num_classes,
            "binary": data.binary,
            "settings": {"weights": plan.weights, "objective": plan.objective, "iterations": plan.iterations,
                         "seed": plan.seed, "holdout": None if plan.folds else plan.holdout, "folds": plan.folds,
                         **self.settings},
            "data": {
                "train": plan.data.text, "test": plan.test_data.text if plan.test_data else None,
                "samples": {"train": len(data.targets), "used": data.used,
                            "member_training": len(data.parts[0][0]), "validation": len(data.validation),
                            "test": None if data.test is None else len(data.test_targets)},
                "validation": fold_text if plan.folds else (
                    f"holdout: a seeded, stratified {plan.holdout:g} of the training data, split off once; every "
                    "member (networks and trees) trained only on the rest, and the weights are fitted on the "
                    "members' predictions for this holdout, which no member saw"),
                "top_members": "Model.top(k) members take the parameters of the search's k best trials and are "
                               "trained again on the member-training part (the search's own models saw all of "
                               "the training data)",
                "test_use": "scores only: nothing is chosen on the test data",
            },
            "members": members,
            "weights": [float(w) for w in fit.weights],
            "fit": {"method": fit.method, "objective": plan.objective, "value": fit.value, "chosen": fit.chosen,
                    "candidates": fit.candidates, **fit.details},
            "metrics": metrics,
            "baselines": baselines,
            "best_single": {"index": best, "label": labels[best], "validation": members[best]["validation"],
                            "test": members[best]["test"]},
            "diversity": {"validation": ew.diversity(labels, val, classify),
                          "test": ew.diversity(labels, test, classify) if has_test else None},
        }


@dataclass
class _Data:
    train: Any                 # loaders.Arrays of the training data
    test: Any                  # loaders.Arrays of the test data, or None
    targets: np.ndarray        # class indices (or values) of the training data
    test_targets: np.ndarray | None
    parts: list                # (member-training indices, indices it predicts) per fold; one for a holdout
    validation: np.ndarray     # the indices the weights are fitted on
    num_classes: int | None
    binary: bool
    used: int                  # training samples used (fewer with --quick)


def _targets(y: np.ndarray | None, classify: bool) -> np.ndarray | None:
    if y is None:
        return None
    if not classify:
        return np.asarray(y, dtype=np.float64)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1).astype(np.int64)
    return y.reshape(len(y)).astype(np.int64)


def _stratified_pick(targets: np.ndarray, fraction: float, rng: np.random.RandomState, classify: bool) -> np.ndarray:
    """Indices of a seeded random ``fraction`` of the samples, the same fraction of each class for a classifier."""
    groups = [np.flatnonzero(targets == c) for c in np.unique(targets)] if classify else [np.arange(len(targets))]
    picked = []
    for group in groups:
        take = int(round(fraction * len(group)))
        if len(group) > 1:
            take = min(max(take, 1), len(group) - 1)
        picked.append(rng.permutation(group)[:take])
    return np.sort(np.concatenate(picked)).astype(np.int64)


def _folds(targets: np.ndarray, k: int, rng: np.random.RandomState, classify: bool) -> list[np.ndarray]:
    """k stratified folds of positions 0..n-1."""
    groups = [np.flatnonzero(targets == c) for c in np.unique(targets)] if classify else [np.arange(len(targets))]
    folds: list[list[int]] = [[] for _ in range(k)]
    offset = 0
    for group in groups:
        for i, index in enumerate(rng.permutation(group)):
            folds[(i + offset) % k].append(int(index))
        offset += len(group)
    return [np.sort(np.asarray(f, dtype=np.int64)) for f in folds]


def _top(search, path: Path, model: str, k: int, root: Path) -> list:
    try:
        return list(search.top_trials(path, model, k, runs_root=root))
    except Exception:  # noqa: BLE001 - no study yet reads as an error or as an empty list
        return []


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", label).strip("-")[:60] or "member"


def _train_network(tplan, x: np.ndarray, y: np.ndarray, validation, part: int, on_epoch) -> tuple[Any, dict]:
    """Train one network member by its train block on (x, y); returns the model and what the run did."""
    import keras

    from netc.compiler.keras_builder import build_model
    from netc.runtime import keras_objects as ko
    from netc.runtime.fitdata import class_weights
    from netc.runtime.progress import make_recorder

    if tplan.seed is not None:
        keras.utils.set_random_seed(tplan.seed + part)
    model = build_model(tplan.ir)
    model.compile(**ko.compile_args(tplan))
    recorder = make_recorder(tplan.epochs, on_epoch)
    callbacks = ko.callbacks(tplan.callbacks)
    fit = ko.fit_args(tplan)
    if validation is not None:
        fit["validation_data"] = validation
    weights = class_weights(tplan.class_weight, y)
    if weights is not None:
        fit["class_weight"] = weights
    model.fit(x, y, callbacks=callbacks + [recorder], **fit)
    restored = ko.restored_epoch(callbacks)
    return model, {"epochs_run": recorder.epochs_run,
                   "restored_epoch": None if restored is None else restored + 1,
                   "samples": len(x)}


def _network_output(model, x: np.ndarray, binary: bool) -> np.ndarray:
    out = np.asarray(model.predict(x, batch_size=256, verbose=0), dtype=np.float64)
    if binary:
        p = out.reshape(len(out))
        return np.stack([1.0 - p, p], axis=1)
    return out.reshape(len(out), -1)


# ---- a saved ensemble ---------------------------------------------------------------

class Ensemble:
    """A fitted ensemble: members and weights. ``predict(x)`` blends the members' predictions.

    ``x`` is a batch of samples as the data gives them (e.g. MNIST-1D's (n, 40));
    a network member adds its channel axis when its input asks for one, a tree
    member flattens each sample.
    """

    def __init__(self, names: list[str], members: list[_LoadedMember], weights: Sequence[float], classify: bool,
                 num_classes: int | None):
        self.names, self.members = names, members
        self.weights = np.asarray(weights, dtype=np.float64)
        self.classify, self.num_classes = classify, num_classes

    @classmethod
    def load(cls, folder: str | Path) -> Ensemble:
        folder = Path(folder)
        report = _read_report(folder)
        classify = report["task"] == "classification"
        members = [_LoadedMember(folder / m["folder"], m, classify, report["num_classes"])
                   for m in report["members"]]
        return cls([m["label"] for m in report["members"]], members, report["weights"], classify,
                   report["num_classes"])

    def member_predictions(self, x) -> list[np.ndarray]:
        return [m.predict(x) for m in self.members]

    def predict(self, x) -> np.ndarray:
        """Class probabilities (samples x classes) for a classifier, else predicted values."""
        return ew.blend(self.member_predictions(x), self.weights)

    def predict_classes(self, x) -> np.ndarray:
        return np.argmax(self.predict(x), axis=1)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}: {w:.3f}" for n, w in zip(self.names, self.weights))
        return f"Ensemble({inner})"


class _LoadedMember:
    def __init__(self, folder: Path, record: dict, classify: bool, num_classes: int | None):
        self.kind, self.record, self.classify, self.num_classes = record["kind"], record, classify, num_classes
        if self.kind == "network":
            import keras

            self.parts = [keras.saving.load_model(folder / f, compile=False) for f in record["files"]]
            self.input_shape = tuple(record["input_shape"])
        else:
            from netc.runtime import trees

            self.parts = [trees.load_tree(record["model"], (folder / f).parent, classify) for f in record["files"]]

    def predict(self, x) -> np.ndarray:
        x = np.asarray(x)
        if self.kind == "network":
            x = _fit_input(x, self.input_shape)
            outs = [_network_output(p, x, self.record.get("binary", False)) for p in self.parts]
        else:
            from netc.runtime import trees

            outs = [trees.tree_predict(p, x, self.classify, self.num_classes) for p in self.parts]
        return np.mean(outs, axis=0)


def _fit_input(x: np.ndarray, shape: tuple) -> np.ndarray:
    from netc.compiler.datafit import ADD_CHANNEL, fit_rule

    rule = fit_rule(shape, x.shape[1:])
    if rule is None:
        raise ValueError(f"samples of shape {tuple(x.shape[1:])} do not fit the member's input {shape}")
    x = x.astype(np.float32, copy=False)
    return x[..., None] if rule == ADD_CHANNEL else x


def load_ensemble(folder: str | Path) -> Ensemble:
    """The ensemble saved in a run folder of ``netc ensemble`` (or ``netc run``)."""
    folder = Path(folder)
    if not _is_complete(folder):
        raise FileNotFoundError(f"{folder} holds no finished ensemble ({ENSEMBLE_FILE})")
    return Ensemble.load(folder)


# ---- what people see ------------------------------------------------------------------

def _score_key(report: dict) -> str:
    if report["task"] != "classification":
        return "loss"
    return "accuracy" if report["settings"]["objective"] in ew.ACCURACY_OBJECTIVES else "loss"


def member_rows(report: dict) -> list[tuple[str, str, str, str, str, str]]:
    """(member, val loss, val accuracy, test loss, test accuracy, weight) rows, the ensemble last."""
    def fmt(scores: dict | None, key: str) -> str:
        return "" if not scores or key not in scores else f"{scores[key]:.4f}"

    rows = [(m["label"], fmt(m["validation"], "loss"), fmt(m["validation"], "accuracy"), fmt(m["test"], "loss"),
             fmt(m["test"], "accuracy"), f"{m['weight']:.3f}") for m in report["members"]]
    metrics = report["metrics"]
    rows.append((f"ensemble {report['ensemble']} ({report['fit']['method']})", fmt(metrics["validation"], "loss"),
                 fmt(metrics["validation"], "accuracy"), fmt(metrics["test"], "loss"), fmt(metrics["test"], "accuracy"),
                 "1.000"))
    return rows


def ensemble_table(report: dict):
    """A rich Table of the members and the ensemble: validation and test scores, weights."""
    from rich.table import Table

    classify = report["task"] == "classification"
    loss_name = "log loss" if classify else "MSE"
    table = Table(title=f"ensemble {report['ensemble']}: weights {report['fit']['method']} on "
                        f"{report['fit']['objective']}", title_justify="left")
    table.add_column("member")
    for column in (f"val {loss_name}", "val accuracy", f"test {loss_name}", "test accuracy", "weight"):
        if classify or "accuracy" not in column:
            table.add_column(column, justify="right")
    for i, row in enumerate(member_rows(report)):
        cells = [row[0], row[1]] + ([row[2]] if classify else []) + [row[3]] + ([row[4]] if classify else []) + [row[5]]
        table.add_row(*cells, style="bold" if i == len(report["members"]) else None,
                      end_section=i == len(report["members"]) - 1)
    return table


def diversity_table(report: dict):
    """A rich Table: for each pair of members, the correlation and disagreement of their predictions."""
    from rich.table import Table

    pairs = report["diversity"]["validation"]
    tests = {(p["a"], p["b"]): p for p in (report["diversity"]["test"] or [])}
    classify = report["task"] == "classification"
    table = Table(title="diversity: each pair of members (correlation of predictions, share of samples they "
                        "disagree on)", title_justify="left")
    table.add_column("member", overflow="ellipsis", no_wrap=True, max_width=34)
    table.add_column("member", overflow="ellipsis", no_wrap=True, max_width=34)
    for column in ("val corr", "val disagree", "test corr", "test disagree"):
        if classify or "disagreement" not in column:
            table.add_column(column, justify="right")

    def fmt(value) -> str:
        return "" if value is None else f"{value:.3f}"

    for pair in pairs:
        test = tests.get((pair["a"], pair["b"]), {})
        cells = [pair["a"], pair["b"], fmt(pair["correlation"])]
        cells += [fmt(pair.get("disagreement"))] if classify else []
        cells += [fmt(test.get("correlation"))] + ([fmt(test.get("disagreement"))] if classify else [])
        table.add_row(*cells)
    return table


def plot_ensemble(report: dict, path: Path) -> None:
    """ensemble.png: each member's weight; validation and test scores of members and ensemble; disagreement."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    members = report["members"]
    labels = [f"{i + 1} {m['label'][:32]}" for i, m in enumerate(members)]
    numbers = [str(i + 1) for i in range(len(members))]
    classify = report["task"] == "classification"
    key = "error" if classify else "loss"
    panels = 3 if classify and len(members) > 1 else 2
    height = 3.0 + 0.25 * len(members)
    figure = Figure(figsize=(4.2 * panels + 2.0, height))
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(1, panels, left=2.4 / (4.2 * panels + 2.0), right=0.97, bottom=0.14, top=0.84,
                               wspace=0.3)
    positions = np.arange(len(members))

    axes = figure.add_subplot(grid[0, 0])
    axes.barh(positions, report["weights"], color="tab:blue")
    for y, w in zip(positions, report["weights"]):
        axes.annotate(f"{w:.2f}", (w, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    axes.set_yticks(positions, labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, max(1e-9, max(report["weights"])) * 1.25)
    axes.set_xlabel("weight")
    axes.set_title(f"weights ({report['fit']['method']})", fontsize=10)
    axes.grid(alpha=0.3, axis="x")

    axes = figure.add_subplot(grid[0, 1])
    val = [m["validation"][key] for m in members] + [report["metrics"]["validation"][key]]
    test = [(m["test"] or {}).get(key, np.nan) for m in members] + [(report["metrics"]["test"] or {}).get(key, np.nan)]
    at = np.arange(len(members) + 1)
    axes.barh(at - 0.2, val, height=0.4, label="validation", color="tab:orange")
    axes.barh(at + 0.2, test, height=0.4, label="test", color="tab:green")
    axes.set_yticks(at, numbers + ["ens."], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("error rate" if classify else "MSE")
    axes.set_title("each member alone, and the ensemble", fontsize=10)
    axes.legend(fontsize=7, loc="lower right")
    axes.grid(alpha=0.3, axis="x")

    if panels == 3:
        axes = figure.add_subplot(grid[0, 2])
        matrix = np.zeros((len(members), len(members)))
        for pair in report["diversity"]["validation"]:
            i, j = [m["label"] for m in members].index(pair["a"]), [m["label"] for m in members].index(pair["b"])
            matrix[i, j] = matrix[j, i] = pair["disagreement"]
        image = axes.imshow(matrix, cmap="viridis", vmin=0)
        axes.set_xticks(positions, numbers, fontsize=8)
        axes.set_yticks(positions, numbers, fontsize=8)
        axes.set_title("pairwise disagreement (validation)", fontsize=10)
        figure.colorbar(image, ax=axes, fraction=0.046)
    figure.suptitle(f"ensemble {report['ensemble']}", fontsize=12)
    figure.savefig(path, dpi=100)
