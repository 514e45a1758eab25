"""``netc search``: a spec's ``search`` directive run as an Optuna study.

Resumable (the study lives in ``study.db`` in the run folder, or in PostgreSQL
with ``--storage``), parallel (``--workers N`` worker processes) and distributed
(``netc worker`` joins a study from another machine). Every trial runs in its
own process, so memory does not grow across trials, and a process that dies
leaves a trial that is failed and run again with the same parameters.

    space.py     the search directive, resolved (framework-free); define-by-run sampling
    store.py     storage URLs, the study's settings, the budget lock, orphaned trials
    worker.py    the worker loop: ask, run the trial in a child process, watch it
    trial.py     one trial, in its own process: sample, train, report, tell
    run.py       search_file: start the workers, show the live table, finish
    report.py    results.csv, best/model.keras, the plots, top_trials

Importing this package imports neither Optuna nor Keras.
"""
from __future__ import annotations

from typing import Any

__all__ = ["SearchError", "SearchResult", "TrialRecord", "search_file", "top_trials", "run_worker", "render_report"]


def __getattr__(name: str) -> Any:
    if name in ("search_file", "SearchResult"):
        from netc.runtime.search import run

        return getattr(run, name)
    if name in ("top_trials", "TrialRecord", "render_report"):
        from netc.runtime.search import report

        return getattr(report, name)
    if name == "run_worker":
        from netc.runtime.search.worker import run_worker

        return run_worker
    if name in ("SearchError", "NoStudyError"):
        from netc.runtime.search import store

        return getattr(store, name)
    raise AttributeError(name)
