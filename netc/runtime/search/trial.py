"""One trial, in its own process: sample its parameters, train, report every epoch, tell the study.

The worker starts this process before it has a trial for it, so Keras is
imported and the data loaded while the previous trial trains; then it writes
``TRIAL_ID NUMBER`` on the child's standard input. From then on standard input
is a lifeline: when it closes (the worker died, even by SIGKILL) the trial
process ends at once, leaving the trial running in the study, where the next
worker finds it orphaned and runs it again with the same parameters.

A trial that raises, gives a NaN or infinite objective, or names an objective
the training does not log is told FAILED with its error; one the pruner stops
is told PRUNED; the others COMPLETE with the objective of the final (or
restored best) epoch, the value its saved model has.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import queue
import shutil
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from netc.diagnostics import SpecError
from netc.runtime.search import store
from netc.runtime.search.space import SearchSpec, load_search, make_pruner, make_sampler, objective_value, sample_params

CACHED_LOADERS = ("mnist1d", "digits")  # generated or bundled: deterministic, worth keeping across trials
MAX_ERROR = 2000


def caching_loader(cache_dir: Path, max_samples: int | None):
    """A loader for ``train_file(loader=...)``: the built-in data sets are generated once per search and
    kept as .npz files (read back with allow_pickle=False); ``max_samples`` caps every data set."""
    import numpy as np

    from netc.runtime.loaders import Arrays, load

    memo: dict[str, Any] = {}

    def read(call) -> Arrays:
        key = hashlib.sha256(json.dumps([call.name, call.args], sort_keys=True, default=str).encode()).hexdigest()[:16]
        if key in memo:
            arrays = memo[key]
            return Arrays(arrays.x, arrays.y, call.text, arrays.num_classes, arrays.lines)
        arrays = None
        path = cache_dir / f"{call.name}-{key}.npz"
        if call.name in CACHED_LOADERS and path.exists():
            try:
                with np.load(path, allow_pickle=False) as f:
                    arrays = Arrays(f["x"], f["y"], call.text, int(f["num_classes"]) or None)
            except (OSError, ValueError, KeyError):
                arrays = None
        if arrays is None:
            arrays = load(call)
            if call.name in CACHED_LOADERS:
                cache_dir.mkdir(parents=True, exist_ok=True)
                tmp = cache_dir / f".{path.name}.{os.getpid()}.tmp.npz"
                np.savez(tmp, x=arrays.x, y=arrays.y, num_classes=np.int64(arrays.num_classes or 0))
                os.replace(tmp, path)
        if max_samples is not None and len(arrays.x) > max_samples:
            arrays = Arrays(arrays.x[:max_samples], arrays.y[:max_samples], arrays.source, arrays.num_classes,
                            arrays.lines[:max_samples] if arrays.lines else None)
        memo[key] = arrays
        return arrays

    return read


class Lifeline:
    """Standard input from the parent process: its lines are messages, its end is the parent's death.

    A thread reads it from the start; when it closes (the parent exited or was
    killed, even by SIGKILL) this process ends at once.
    """

    def __init__(self):
        self.lines: queue.Queue[str] = queue.Queue()

    def start(self) -> "Lifeline":
        threading.Thread(target=self._watch, daemon=True, name="netc-lifeline").start()
        return self

    def _watch(self) -> None:
        try:
            for line in sys.stdin:
                self.lines.put(line)
        except (OSError, ValueError):
            pass
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(3)

    def next_line(self) -> str:
        return self.lines.get()


def main(spec_path: str, model: str, study_name: str, run_dir: str) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides what an interrupt does to a trial
    lifeline = Lifeline().start()  # a spare that is not needed ends here too, when the worker closes it
    url = os.environ[store.STORAGE_ENV]
    run = Path(run_dir)
    spec = load_search(spec_path, model)
    storage = store.open_storage(url)
    import optuna

    settings = store.StudySettings.of(optuna.load_study(study_name=study_name, storage=storage))
    loader = caching_loader(run / ".data", settings.max_samples)
    _warm_up(spec, loader)
    trial_id, number = (int(x) for x in lifeline.next_line().split())
    epochs = settings.epochs or spec.epochs
    study = optuna.load_study(study_name=study_name, storage=storage,
                              sampler=make_sampler(spec, study_name, number, parallel=True),
                              pruner=make_pruner(spec, epochs))
    study.get_trials(deepcopy=False)  # fills the storage's cache, which Trial(study, id) reads
    trial = optuna.trial.Trial(study, trial_id)
    run_trial(spec, study, trial, run, settings, loader)
    return 0


TRIAL_THREADS_ENV = "NETC_TRIAL_THREADS"  # caps a trial's TensorFlow threads (set for local workers, or by the user)


def _warm_up(spec: SearchSpec, loader) -> None:
    """Import Keras (and what training imports later) and load the data now, while the worker's current
    trial still trains. NETC_TRIAL_THREADS, when set, caps the trial's TensorFlow threads."""
    import keras

    threads = os.environ.get(TRIAL_THREADS_ENV, "")
    if threads.isdigit() and keras.backend.backend() == "tensorflow":  # several workers share this machine's cores
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))

    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401  learning_curves.png, later

    from netc.compiler.keras_builder import build_model  # noqa: F401
    from netc.runtime.plan import plan_training
    from netc.runtime.train import load_datasets

    try:
        plan = plan_training(spec.text, spec.spec_file, spec.model.name, {})
        load_datasets(plan, loader)
    except Exception:  # noqa: BLE001 - only a head start; the trial reports real problems itself
        pass


def run_trial(spec: SearchSpec, study, trial, run_dir: Path, settings: store.StudySettings, loader) -> None:
    from optuna.trial import TrialState

    from netc.runtime.train import train_file

    started = time.perf_counter()
    out = run_dir / "trials" / str(trial.number)
    error, value, reporter = None, None, None
    try:
        params = sample_params(spec, trial)
        trial.set_user_attr("values", {k: _jsonable(v) for k, v in params.items()})
        if out.exists():
            shutil.rmtree(out)  # left by an older study in this folder: trial numbers are unique within one
        reporter = make_reporter(trial, spec.objective)
        result = train_file(spec.spec_file, spec.model.name, params, epochs=settings.epochs, out=out,
                            callbacks=[reporter], loader=loader)
        trial.set_user_attr("epochs_run", result.metrics.get("epochs_run"))
        trial.set_user_attr("test", result.metrics.get("test"))
        value = objective_value(result.metrics, spec.objective)
        error = reporter.problem or _value_problem(value, spec.objective, result.metrics)
    except SpecError as e:
        first = next((d for d in e.diagnostics if d.severity == "error"), e.diagnostics[0] if e.diagnostics else None)
        error = f"{first.code}: {first.message} (line {first.line})" if first else str(e)
    except MemoryError:
        error = "out of memory"
    except Exception as e:  # noqa: BLE001 - any failure of a trial is recorded, and the search goes on
        error = f"{type(e).__name__}: {e}"
        traceback.print_exc()
    trial.set_user_attr("seconds", round(time.perf_counter() - started, 3))
    if error is not None:
        trial.set_user_attr("error", error[:MAX_ERROR])
        study.tell(trial, state=TrialState.FAIL)
    elif reporter is not None and reporter.pruned_at is not None:
        trial.set_user_attr("pruned_at", reporter.pruned_at)
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, value)


def _value_problem(value: float | None, objective: str, metrics: dict) -> str | None:
    if value is None:
        logged = sorted({*(metrics.get("train") or {}), *(f"val_{k}" for k in (metrics.get("validation") or {}))})
        return f"the training does not log the objective '{objective}'; it logs: {', '.join(logged)}"
    if not math.isfinite(value):
        return f"the objective {objective} is {value}"
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def make_reporter(trial, objective: str):
    """A Keras callback: reports the objective to the trial after every epoch (the pruner's input) and stops
    training when the pruner prunes the trial or the objective or the loss is not finite."""
    import keras

    class ReportToTrial(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.pruned_at: int | None = None
            self.problem: str | None = None

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            value = logs.get(objective)
            if value is None:
                self.problem = (f"the training does not log the objective '{objective}'; it logs: "
                                + ", ".join(sorted(logs)))
                self.model.stop_training = True
                return
            for name in (objective, "loss"):
                number = float(logs.get(name, 0.0))
                if not math.isfinite(number):
                    self.problem = f"{name} is {number} after epoch {epoch + 1}"
                    self.model.stop_training = True
                    return
            trial.report(float(value), epoch)
            if trial.should_prune():
                self.pruned_at = epoch + 1
                self.model.stop_training = True

    return ReportToTrial()
