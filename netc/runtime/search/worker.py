"""The worker loop: ask the study for a trial, run it in a child process, keep its heartbeat, repeat.

Any number of workers, on any number of machines, can share a study. Under
the budget lock a worker fails orphaned trials (so they run again with the
same parameters), counts the finished and running trials against the budget,
and asks for a trial only when one is still needed; so the budget holds
across workers, processes and resumes. It stops when the budget is reached,
the timeout has passed, the grid is exhausted, or ``max_failures`` trials have
failed in a row (which it records in the study, stopping every other worker).

``netc search`` starts its workers with a lifeline on standard input, like
the trial processes: a worker whose ``netc search`` died ends too.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from netc.runtime.search import store

FINISHED = ("COMPLETE", "PRUNED")
POLL_S = 1.0


class _Stop(Exception):
    """SIGTERM or SIGINT: stop after failing the running trial so it runs again on resume."""


@dataclass
class _Child:
    proc: subprocess.Popen
    log: Path


def run_worker(spec_path: str, model: str | None, storage_url: str, study_name: str, run_dir: str | Path,
               lifeline: bool = False, prestart: bool = True) -> str:
    """Run trials until the study needs no more; returns why it stopped."""
    import optuna

    from netc.runtime.search.space import load_search, make_pruner, make_sampler

    if lifeline:
        from netc.runtime.search.trial import Lifeline

        Lifeline().start()
    run = Path(run_dir)
    spec = load_search(spec_path, model)
    storage = store.open_storage(storage_url, heartbeat=True)
    study = optuna.load_study(study_name=study_name, storage=storage)
    settings = store.StudySettings.of(study)
    study = optuna.load_study(study_name=study_name, storage=storage,
                              sampler=make_sampler(spec, study_name, None, parallel=True),
                              pruner=make_pruner(spec, settings.epochs or spec.epochs))
    (run / "logs").mkdir(parents=True, exist_ok=True)

    def stop(signum, frame):
        raise _Stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    spare: _Child | None = None
    try:
        while True:
            with store.budget_lock(storage, storage_url, study_name):
                outcome = _next_trial(study, settings, spec)
            if isinstance(outcome, str):
                if outcome == "wait":
                    time.sleep(POLL_S)
                    continue
                return outcome
            trial = outcome
            child = spare or _start_child(spec_path, spec.model.name, study_name, run, storage_url)
            spare = None
            _assign(child, trial, run)
            if prestart and _more_needed(study, settings):
                spare = _start_child(spec_path, spec.model.name, study_name, run, storage_url)
            _watch(child, trial, study, storage)
    except _Stop:
        return "interrupted"
    finally:
        if spare is not None:
            _end(spare)
            spare.log.unlink(missing_ok=True)  # a spare never ran a trial: its log holds nothing


def _next_trial(study, settings: store.StudySettings, spec):
    """Under the budget lock: 'wait', a reason to stop, or a new trial (asked, with its heartbeat started)."""
    from optuna.trial import TrialState

    store.fail_orphans(study)
    stop = study.user_attrs.get(store.STOP_ATTR)
    if stop:
        return f"stopped: {stop}"
    trials = study.get_trials(deepcopy=False)
    done = sum(t.state.name in FINISHED for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    if done >= settings.budget:
        return "budget"
    streak, last_error = failures_in_a_row(trials, settings.session_start)
    if streak >= settings.max_failures:
        message = (f"{streak} trials failed in a row (max_failures {settings.max_failures}); "
                   f"the last one: {last_error}")
        study.set_user_attr(store.STOP_ATTR, message)
        return f"stopped: {message}"
    if settings.deadline is not None and time.time() >= settings.deadline:
        return "timeout"
    if spec.strategy == "grid" and study.sampler.is_exhausted(study):
        return "grid exhausted"
    if done + running >= settings.budget:
        return "wait"  # the running trials may still complete the budget, or fail and need a rerun
    trial = study.ask()
    trial.set_user_attr("worker", store.worker_tag())
    trial.set_user_attr("interrupted", False)
    study._storage.record_heartbeat(trial._trial_id)
    return trial


def failures_in_a_row(trials, since: float) -> tuple[int, str | None]:
    """How many trials failed with an error, one after another, most recently; and the last error.

    Trials failed because their process died (killed, interrupted) do not count: they run again.
    """
    finished = [t for t in trials if t.datetime_complete is not None and t.datetime_start is not None
                and t.datetime_start.timestamp() >= since - 1
                and (t.state.name in FINISHED or "error" in t.user_attrs)]
    finished.sort(key=lambda t: t.datetime_complete)
    streak, last = 0, None
    for t in reversed(finished):
        if t.state.name != "FAIL":
            break
        streak += 1
        last = last or t.user_attrs.get("error")
    return streak, last


def _more_needed(study, settings: store.StudySettings) -> bool:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
    return len(trials) < settings.budget


def _start_child(spec_path: str, model: str, study_name: str, run: Path, storage_url: str) -> _Child:
    log = run / "logs" / f".trial-{os.getpid()}-{time.monotonic_ns()}.log"
    env = {**os.environ, store.STORAGE_ENV: storage_url}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    handle = open(log, "w", encoding="utf-8")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "netc.runtime.search", "trial", "--spec", str(spec_path),
                                 "--model", model, "--study", study_name, "--run-dir", str(run)],
                                stdin=subprocess.PIPE, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    finally:
        handle.close()
    return _Child(proc, log)


def _assign(child: _Child, trial, run: Path) -> None:
    log = run / "logs" / f"trial-{trial.number}.log"
    try:
        os.replace(child.log, log)
        child.log = log
    except OSError:
        pass
    try:
        child.proc.stdin.write(f"{trial._trial_id} {trial.number}\n".encode())
        child.proc.stdin.flush()
    except (BrokenPipeError, OSError):
        pass  # it died while warming up: _watch records why


def _watch(child: _Child, trial, study, storage) -> None:
    """Keep the trial's heartbeat while its process runs; a process that dies without telling fails the trial."""
    from optuna.trial import TrialState

    try:
        while True:
            try:
                code = child.proc.wait(timeout=store.HEARTBEAT_S)
                break
            except subprocess.TimeoutExpired:
                storage.record_heartbeat(trial._trial_id)
    except _Stop:
        _end(child)
        _fail(study, storage, trial, None, interrupted=True)
        raise
    finally:
        _close_stdin(child)
    if storage.get_trial(trial._trial_id).state == TrialState.RUNNING:
        _fail(study, storage, trial, _death(code, child.log))


def _death(code: int, log: Path) -> str:
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
        why = f"the trial's process was killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    else:
        why = f"the trial's process exited with code {code}"
    tail = _tail(log)
    return why + (f": {tail}" if tail else "")


def _tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])[-600:]


def _fail(study, storage, trial, error: str | None, interrupted: bool = False) -> None:
    """Fail a trial: with an error it counts as a failure; interrupted, it is enqueued to run again."""
    import optuna
    from optuna.trial import TrialState

    try:
        if error is not None:
            storage.set_trial_user_attr(trial._trial_id, "error", error)
        if interrupted:
            storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        study.tell(trial, state=TrialState.FAIL)
    except (optuna.exceptions.UpdateFinishedTrialError, ValueError, RuntimeError):
        return
    if interrupted:
        store.retry_callback()(study, storage.get_trial(trial._trial_id))


def _close_stdin(child: _Child) -> None:
    try:
        child.proc.stdin.close()
    except OSError:
        pass


def _end(child: _Child) -> None:
    """End a trial process: close its lifeline, then terminate, then kill."""
    _close_stdin(child)
    for sig, wait in ((None, 2.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        if sig is not None:
            try:
                child.proc.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            child.proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
