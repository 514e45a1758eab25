"""``train_file``: a spec's train block -> a trained model and a complete run folder.

The order matters: resolve and check the spec, load and check every data set
(errors here leave no folder behind and never import Keras for the built-in
sets or files), then open the partial run folder, train, and write it out.
Ctrl-C during training stops it; what was trained is saved and the folder is
finished with ``"interrupted": true``.
"""
from __future__ import annotations

import json
import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from netc.compiler.pipeline import read_source
from netc.diagnostics import SpecError
from netc.runtime import keras_objects as ko
from netc.runtime.fitdata import class_weights, prepare
from netc.runtime.loaders import load
from netc.runtime.plan import LoaderCall, TrainPlan, plan_training
from netc.runtime.progress import EpochReport, make_recorder
from netc.runtime.resolved import resolved_spec
from netc.runtime.runfolder import RunFolder, default_run_dir, json_safe

RUN_FILES = ("model.keras", "history.json", "metrics.json", "learning_curves.png", "spec.net", "ir.json")


@dataclass
class TrainResult:
    """What a run produced: the trained keras.Model, its history and metrics, and where it was saved."""

    model: Any
    history: dict[str, list[float]]
    metrics: dict[str, Any]
    run_dir: Path
    interrupted: bool = False


@dataclass
class Datasets:
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray] | None
    test: tuple[np.ndarray, np.ndarray] | None


def train_file(path: str | Path, model: str | None = None, params: dict[str, Any] | None = None,
               epochs: int | None = None, out: str | Path | None = None,
               on_epoch: Callable[[EpochReport], None] | None = None, runs_root: str | Path = "runs", *,
               callbacks: list | None = None, loader: Callable[[LoaderCall], Any] | None = None) -> TrainResult:
    """Train one model of a spec file by its train block and write its run folder.

    ``params`` bind model and train parameters by name; ``epochs`` overrides the
    block's; ``out`` is the run folder (default ``runs/<spec>/<timestamp>/``);
    ``on_epoch`` receives an EpochReport after each epoch. Raises SpecError
    (DataError for bad data) before anything is trained.

    Hooks for a search (both optional, off by default): ``callbacks`` are extra
    Keras callbacks run after the train block's; ``loader`` replaces the catalog's
    loader (a LoaderCall -> loaders.Arrays), e.g. to reuse data across trials.
    """
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise ValueError(f"epochs must be a positive integer, not {epochs!r}")
    text, problem = read_source(path)
    if problem:
        raise SpecError([problem])
    plan = plan_training(text, str(path), model, params, epochs)
    data = load_datasets(plan, loader)
    folder = RunFolder.create(out if out is not None else default_run_dir(path, runs_root))
    try:
        return _run(plan, data, folder, on_epoch, list(callbacks or ()))
    except BaseException as e:
        folder.mark_failed(f"{type(e).__name__}: {e}")
        raise


def load_datasets(plan: TrainPlan, loader: Callable[[LoaderCall], Any] | None = None) -> Datasets:
    """Every data set of the plan, loaded and fitted to the model, or the DataError of the first bad one."""
    read = loader or load

    def one(call: LoaderCall | None):
        return None if call is None else prepare(read(call), call, plan.ir, plan.loss)

    return Datasets(one(plan.data), one(plan.validation_data), one(plan.test_data))


def _run(plan: TrainPlan, data: Datasets, folder: RunFolder, on_epoch, extra_callbacks: list | None = None
         ) -> TrainResult:
    import keras

    started = time.perf_counter()
    if plan.seed is not None:
        keras.utils.set_random_seed(plan.seed)
    from netc.compiler.keras_builder import build_model

    model = build_model(plan.ir)
    model.compile(**ko.compile_args(plan))
    recorder = make_recorder(plan.epochs, on_epoch)
    callbacks = ko.callbacks(plan.callbacks)
    fit = ko.fit_args(plan)
    if data.validation is not None:
        fit["validation_data"] = data.validation
    weights = class_weights(plan.class_weight, data.train[1])
    if weights is not None:
        fit["class_weight"] = weights
    interrupted, test = False, None
    stop = _StopOnCtrlC(model)
    try:
        with stop.installed():
            model.fit(*data.train, callbacks=callbacks + [recorder] + list(extra_callbacks or ()), **fit)
        interrupted = stop.requested
        if data.test is not None and not interrupted:
            test = model.evaluate(*data.test, batch_size=plan.batch_size, verbose=0, return_dict=True)
    except KeyboardInterrupt:
        interrupted = True
    with _interrupts_held():
        restored = None if interrupted else ko.restored_epoch(callbacks)
        metrics = _metrics(plan, data, recorder, restored, test, interrupted, time.perf_counter() - started)
        _write(folder, plan, model, recorder.history, metrics)
        run_dir = folder.finish()
    return TrainResult(model, recorder.history, metrics, run_dir, interrupted)


def _metrics(plan: TrainPlan, data: Datasets, recorder, restored: int | None, test: dict | None,
             interrupted: bool, seconds: float) -> dict[str, Any]:
    """metrics.json: the final train, validation and test metrics, and what the run was."""
    epoch = restored if restored is not None else recorder.epochs_run - 1
    logs = {k: v[epoch] for k, v in recorder.history.items()} if epoch >= 0 else {}
    train = {k: v for k, v in logs.items() if not k.startswith("val_") and k != "learning_rate"}
    validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
    return {
        "model": plan.model.name,
        "spec": plan.spec_file,
        "params": {**plan.model_params, **plan.train_params},
        "epochs": plan.epochs,
        "epochs_run": recorder.epochs_run,
        "final_epoch": epoch + 1 if epoch >= 0 else None,
        "restored_best_weights": restored is not None,
        "interrupted": interrupted,
        "train": train or None,
        "validation": validation or None,
        "test": test,
        "samples": _sample_counts(plan, data),
        "seed": plan.seed,
        "seconds": round(seconds, 3),
    }


def _sample_counts(plan: TrainPlan, data: Datasets) -> dict[str, int | None]:
    """How many samples each split had; a validation_split holds out the last part, as Keras does."""
    total = len(data.train[0])
    if data.validation is not None:
        train, validation = total, len(data.validation[0])
    else:
        train = math.ceil(total * (1.0 - plan.validation_split))
        validation = (total - train) or None
    return {"train": train, "validation": validation, "test": None if data.test is None else len(data.test[0])}


def _write(folder: RunFolder, plan: TrainPlan, model, history: dict, metrics: dict) -> None:
    from netc.runtime.curves import plot_learning_curves

    model.save(folder.path("model.keras"))
    folder.write_json("history.json", {"epoch": list(range(1, len(next(iter(history.values()), [])) + 1)),
                                       **history})
    folder.write_json("metrics.json", metrics)
    folder.write_text("spec.net", resolved_spec(plan))
    folder.write_text("ir.json", json.dumps(json_safe(plan.ir), indent=2) + "\n")
    plot_learning_curves(history, folder.path("learning_curves.png"),
                         f"{plan.model.name}" + (" (interrupted)" if metrics["interrupted"] else ""))


class _StopOnCtrlC:
    """Ctrl-C during fit asks Keras to stop after the current batch.

    A KeyboardInterrupt raised at an arbitrary point can be swallowed (say,
    inside a garbage-collector callback of a backend library), so the signal
    only sets ``model.stop_training``; Keras ends the epoch loop cleanly.
    """

    def __init__(self, model):
        self.model = model
        self.requested = False

    def _handle(self, *_):
        self.requested = True
        self.model.stop_training = True

    def installed(self):
        return _on_sigint(self._handle)


def _interrupts_held():
    """While the run folder is written, a Ctrl-C waits: the folder is finished first (main thread only)."""
    return _on_sigint(lambda *_: None)


@contextmanager
def _on_sigint(handler):
    """``handler`` takes SIGINT while the block runs; only the main thread can set it, elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
