"""``search_file``: check the search, open (or resume) its study, run the workers, report.

The run folder is stable (``runs/<spec>/search-<Model>/``), so running the same
search again resumes it: completed trials are kept, a trial that was running
when the search was killed runs again with the same parameters, and the
budget (``trials``) counts every completed trial of every run and process.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from netc.runtime.search import store
from netc.runtime.search.space import SearchSpec, load_search

QUICK_TRIALS, QUICK_EPOCHS, QUICK_SAMPLES = 3, 2, 800
POLL_S = 1.0


@dataclass
class SearchResult:
    study_name: str
    run_dir: Path
    best_params: dict[str, Any]
    best_value: float | None
    direction: str
    completed: int                       # trials that finished: complete or pruned (the budget counts these)
    objective: str = ""
    budget: int = 0
    pruned: int = 0
    failed: int = 0
    best_trial: int | None = None
    best_model: Path | None = None
    storage: str = ""                    # without its password
    stopped: str | None = None           # why the search stopped before its budget, if it did
    interrupted: bool = False
    plots: list[str] = field(default_factory=list)


def default_search_dir(path: str | Path, model: str, runs_root: str | Path = "runs") -> Path:
    return Path(runs_root) / Path(path).stem / f"search-{model}"


def search_file(path: str | Path, model: str | None = None, *, trials: int | None = None, epochs: int | None = None,
                workers: int | None = 1, storage: str | None = None, study: str | None = None,
                out: str | Path | None = None, quick: bool = False, runs_root: str | Path = "runs",
                display: Callable[[list, dict], None] | None = None) -> SearchResult:
    """Run (or resume) the search directive of ``model`` in the spec at ``path``.

    ``trials`` and ``epochs`` override the directive's budget and the train
    block's epochs; ``workers`` worker processes run trials in parallel (None:
    the directive's ``workers``); ``storage`` is an SQLAlchemy URL (default:
    SQLite in the run folder) and ``study`` the study's name; ``quick`` shrinks
    the search to a smoke test (3 trials, 2 epochs, 800 samples). ``display``
    receives the trials (Optuna FrozenTrials) and a status dict about once a second.

    Raises SpecError before anything runs if the spec does not check, and
    SearchError (with ``.result``) if the search stopped after too many failures.
    """
    for name, value in (("trials", trials), ("epochs", epochs), ("workers", workers)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    import optuna

    spec = load_search(path, model)
    run_dir = Path(out) if out is not None else default_search_dir(path, spec.model.name, runs_root)
    run_dir.mkdir(parents=True, exist_ok=True)
    url = storage or store.default_storage(run_dir)
    study_name = study or f"{Path(path).stem}-{spec.model.name}"
    budget = trials or spec.trials
    max_samples = None
    if quick:
        budget = min(budget, QUICK_TRIALS)
        epochs = min(epochs or spec.epochs, QUICK_EPOCHS)
        max_samples = QUICK_SAMPLES
    the_study = optuna.create_study(study_name=study_name, storage=store.open_storage(url),
                                    direction=spec.direction, load_if_exists=True)
    if the_study.direction.name.lower() != spec.direction:
        raise store.SearchError(f"study '{study_name}' was made to {the_study.direction.name.lower()} but the "
                                f"search now wants to {spec.direction}; use another --study or --out")
    started = time.time()
    settings = store.StudySettings(spec=str(Path(path).resolve()), model=spec.model.name, budget=budget,
                                   epochs=epochs, max_samples=max_samples, max_failures=spec.max_failures,
                                   deadline=started + spec.timeout if spec.timeout else None,
                                   session_start=started, objective=spec.objective, direction=spec.direction)
    settings.save(the_study)
    the_study.set_user_attr(store.STOP_ATTR, None)
    store.write_meta(run_dir, {"spec": str(Path(path).resolve()), "model": spec.model.name, "study": study_name,
                               "storage": None if storage is None else store.masked(url),
                               "objective": spec.objective, "direction": spec.direction})
    count = workers if workers is not None else spec.workers
    status = {"budget": budget, "objective": spec.objective, "direction": spec.direction, "workers": count,
              "model": spec.model.name, "run_dir": str(run_dir), "study": study_name}
    procs = _start_workers(path, spec, study_name, run_dir, url, count)
    interrupted = False
    try:
        _prefetch(spec, run_dir, max_samples)
        _monitor(the_study, procs, display, status)
    except KeyboardInterrupt:
        interrupted = True
        _stop_workers(procs)
        if display is not None:
            display(the_study.get_trials(deepcopy=False), {**status, "interrupted": True})
    return _finish(the_study, spec, run_dir, url, storage, budget, procs, interrupted)


def _start_workers(path, spec: SearchSpec, study_name: str, run_dir: Path, url: str, count: int) -> list:
    env = {**os.environ, store.STORAGE_ENV: url}
    (run_dir / "logs").mkdir(exist_ok=True)
    procs = []
    for i in range(count):
        log = open(run_dir / "logs" / f"worker-{i + 1}.log", "w", encoding="utf-8")
        try:
            procs.append((subprocess.Popen(
                [sys.executable, "-m", "netc.runtime.search", "worker", "--spec", str(path), "--model",
                 spec.model.name, "--study", study_name, "--run-dir", str(run_dir)],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True),
                run_dir / "logs" / f"worker-{i + 1}.log"))
        finally:
            log.close()
    return procs


def _prefetch(spec: SearchSpec, run_dir: Path, max_samples: int | None) -> None:
    """Generate the built-in data sets into the run folder's cache while the workers import Keras,
    so no trial process generates them (framework-free: only the data packages)."""
    from netc.runtime.plan import plan_training
    from netc.runtime.search.trial import caching_loader

    read = caching_loader(run_dir / ".data", max_samples)
    try:
        plan = plan_training(spec.text, spec.spec_file, spec.model.name, {})
        for call in (plan.data, plan.validation_data, plan.test_data):
            if call is not None:
                read(call)
    except Exception:  # noqa: BLE001 - only a head start: a trial reports real problems itself
        pass


def _monitor(study, procs, display, status) -> None:
    while True:
        alive = [p for p, _ in procs if p.poll() is None]
        if display is not None:
            display(study.get_trials(deepcopy=False), {**status, "running_workers": len(alive)})
        if not alive:
            return
        time.sleep(POLL_S)


def _stop_workers(procs) -> None:
    """Ask each worker to stop (it fails its running trial, to be run again on resume), then wait."""
    for proc, _ in procs:
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 30
    for proc, _ in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _finish(study, spec: SearchSpec, run_dir: Path, url: str, storage: str | None, budget: int, procs,
            interrupted: bool) -> SearchResult:
    from netc.runtime.search.report import write_reports
    from netc.runtime.search.space import decode_params

    for proc, _ in procs:
        if proc.stdin:
            proc.stdin.close()
    summary = write_reports(run_dir, study, spec.objective)
    counts, best = summary["counts"], summary["best"]
    stopped = study.user_attrs.get(store.STOP_ATTR)
    crashed = [(p.returncode, log) for p, log in procs if p.returncode not in (0, None, -signal.SIGTERM)]
    done = counts["COMPLETE"] + counts["PRUNED"]
    if not stopped and not interrupted and crashed and done < budget:
        code, log = crashed[0]
        stopped = f"{len(crashed)} worker process(es) failed (exit code {code}); see {log}: " + _tail(log)
    result = SearchResult(
        study_name=study.study_name, run_dir=run_dir,
        best_params=decode_params(spec, dict(best.params)) if best else {},
        best_value=None if best is None else float(best.value), direction=spec.direction,
        completed=done, objective=spec.objective, budget=budget, pruned=counts["PRUNED"],
        failed=counts["FAIL"], best_trial=None if best is None else best.number,
        best_model=summary["best_model"], storage=store.masked(url) if storage else "",
        stopped=stopped, interrupted=interrupted, plots=summary["plots"])
    if stopped:
        raise store.SearchError(f"the search stopped: {stopped}", result)
    return result


def _tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:])[-600:]
    except OSError:
        return ""


# ---- the live display -------------------------------------------------------------

def _row(t) -> tuple[str, str, str, str, str]:
    from netc.runtime.search.report import format_params

    state = t.state.name
    if state == "FAIL" and t.user_attrs.get("interrupted"):
        state = "FAIL (rerun)"
    value = "" if t.value is None else f"{t.value:.4g}"
    if t.state.name == "RUNNING" and t.intermediate_values:
        step = max(t.intermediate_values)
        value = f"{t.intermediate_values[step]:.4g} @{step + 1}"
    seconds = t.user_attrs.get("seconds")
    if seconds is None and t.datetime_start is not None:
        end = t.datetime_complete.timestamp() if t.datetime_complete else time.time()
        seconds = end - t.datetime_start.timestamp()
    return str(t.number), state, value, f"{seconds or 0:.1f}s", format_params(t.params)


def _headline(trials, status) -> str:
    done = sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    pruned = sum(t.state.name == "PRUNED" for t in trials)
    failed = sum(t.state.name == "FAIL" and not t.user_attrs.get("interrupted") for t in trials)
    running = sum(t.state.name == "RUNNING" for t in trials)
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    best = ""
    if complete:
        pick = max if status["direction"] == "maximize" else min
        b = pick(complete, key=lambda t: t.value)
        best = f"; best {status['objective']} {b.value:.4g} (trial {b.number})"
    return (f"search {status['model']}: {done}/{status['budget']} trials done ({pruned} pruned, {failed} failed), "
            f"{running} running on {status['workers']} worker{'s' * (status['workers'] != 1)}{best}")


class LiveTable:
    """A rich live table of the trials (the last ones, and every running one), under a headline."""

    def __init__(self, stream=None, rows: int = 15):
        self.stream, self.rows, self._live = stream or sys.stderr, rows, None

    def __enter__(self):
        from rich.console import Console
        from rich.live import Live

        self._live = Live(console=Console(file=self.stream), refresh_per_second=2, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc):
        self._live.__exit__(*exc)
        return False

    def __call__(self, trials, status) -> None:
        from rich.table import Table

        table = Table(title=_headline(trials, status), title_justify="left")
        for column, justify in (("trial", "right"), ("state", "left"), (status["objective"], "right"),
                                ("time", "right"), ("params", "left")):
            table.add_column(column, justify=justify)
        shown = sorted(trials, key=lambda t: t.number)
        running = [t for t in shown if t.state.name == "RUNNING"]
        rest = [t for t in shown if t.state.name != "RUNNING"][-max(1, self.rows - len(running)):]
        for t in sorted(rest + running, key=lambda t: t.number):
            number, state, value, seconds, params = _row(t)
            style = {"COMPLETE": "green", "PRUNED": "yellow", "FAIL": "red", "RUNNING": "cyan"}.get(t.state.name)
            table.add_row(number, f"[{style}]{state}[/]" if style else state, value, seconds, params)
        self._live.update(table)


class TrialLines:
    """One line per finished trial: for logs, CI and pipes."""

    def __init__(self, stream=None):
        self.stream, self.seen = stream or sys.stderr, set()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, trials, status) -> None:
        for t in sorted(trials, key=lambda t: t.number):
            key = (t.number, t.state.name)
            if t.state.name in ("RUNNING", "WAITING") or key in self.seen:
                continue
            self.seen.add(key)
            number, state, value, seconds, params = _row(t)
            error = t.user_attrs.get("error")
            print(f"trial {number:>3} {state:<12} {status['objective']} {value or '-':<8} {seconds:>7}  {params}"
                  + (f"  [{error[:200]}]" if error else ""), file=self.stream, flush=True)


def display_for(stream=None):
    """A live table on a terminal, else one line per finished trial."""
    from rich.console import Console

    stream = stream or sys.stderr
    return LiveTable(stream) if Console(file=stream).is_terminal else TrialLines(stream)
