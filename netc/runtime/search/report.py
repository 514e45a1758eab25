"""What a search leaves in its run folder, and how to read it back.

``write_reports`` writes ``results.csv`` (one row per trial), copies the best
trial's model to ``best/model.keras`` and draws the plots with Optuna's
matplotlib visualizations (optimization history, parameter importances,
parallel coordinates, and the learning curves the pruner saw).
``netc report RUN_DIR`` draws them again; ``top_trials`` lists the best
completed trials and their saved models, for ensembles.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netc.runtime.search import store

PLOTS = ("optimization_history.png", "param_importances.png", "parallel_coordinates.png",
         "intermediate_values.png")


@dataclass(frozen=True)
class TrialRecord:
    """A completed trial: its number, parameters (the spec's values), objective and saved model."""

    number: int
    params: dict
    value: float
    model_path: Path


def trial_dir(run_dir: Path, number: int) -> Path:
    return Path(run_dir) / "trials" / str(number)


def ranked(study) -> list:
    """The completed trials, best first (ties: the earlier trial first)."""
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None and math.isfinite(t.value)]
    sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
    return sorted(done, key=lambda t: (sign * t.value, t.number))


def write_reports(run_dir: Path, study, objective: str) -> dict[str, Any]:
    """results.csv, best/, and the plots; returns a summary (best trial, counts, what was written)."""
    run_dir = Path(run_dir)
    trials = study.get_trials(deepcopy=False)
    _write_csv(run_dir / "results.csv", trials)
    best = ranked(study)
    best_model = _copy_best(run_dir, best[0], objective) if best else None
    plots = _plots(run_dir, study, objective)
    counts = {state: sum(t.state.name == state for t in trials) for state in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")}
    return {"best": best[0] if best else None, "best_model": best_model, "plots": plots, "counts": counts}


def _write_csv(path: Path, trials) -> None:
    names: list[str] = []
    for t in trials:
        names += [k for k in t.params if k not in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["number", "state", "value", "seconds", "epochs_run", *names, "worker", "error"])
    for t in sorted(trials, key=lambda t: t.number):
        seconds = t.user_attrs.get("seconds")
        if seconds is None and t.duration is not None:
            seconds = round(t.duration.total_seconds(), 3)
        writer.writerow([t.number, t.state.name, "" if t.value is None else repr(t.value), seconds or "",
                         t.user_attrs.get("epochs_run", ""), *(_cell(t.params.get(k, "")) for k in names),
                         t.user_attrs.get("worker", ""), t.user_attrs.get("error") or
                         ("interrupted: run again" if t.user_attrs.get("interrupted") and t.state.name == "FAIL"
                          else "")])
    _atomic_write(path, buffer.getvalue())


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _copy_best(run_dir: Path, best, objective: str) -> Path | None:
    source = trial_dir(run_dir, best.number)
    target = run_dir / "best"
    target.mkdir(exist_ok=True)
    info = {"trial": best.number, "objective": objective, "value": best.value, "params": best.params,
            "test": best.user_attrs.get("test"), "worker": best.user_attrs.get("worker")}
    _atomic_write(target / "trial.json", json.dumps(info, indent=2, default=str) + "\n")
    if not (source / "model.keras").exists():
        return None  # trained on another machine: its model is in that machine's run folder
    for name in ("model.keras", "metrics.json", "spec.net", "learning_curves.png"):
        if (source / name).exists():
            tmp = target / f".{name}.tmp"
            shutil.copyfile(source / name, tmp)
            os.replace(tmp, target / name)
    return target / "model.keras"


def _plots(run_dir: Path, study, objective: str) -> list[str]:
    """Optuna's matplotlib plots; one that needs more trials than there are is left out."""
    import warnings

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # a search draws files, never windows
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    drawn = []
    completed = len(ranked(study))
    jobs = [("optimization_history.png", lambda: vis.plot_optimization_history(study, target_name=objective), 1),
            ("param_importances.png", lambda: vis.plot_param_importances(study, target_name=objective), 2),
            ("parallel_coordinates.png", lambda: vis.plot_parallel_coordinate(study, target_name=objective), 1),
            ("intermediate_values.png", lambda: vis.plot_intermediate_values(study), 1)]
    for name, draw, needed in jobs:
        if completed < needed:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = draw()
            figure = getattr(axes, "figure", None) or axes.flat[0].figure
            figure.set_size_inches(max(figure.get_size_inches()[0], 8), max(figure.get_size_inches()[1], 5))
            figure.savefig(run_dir / name, dpi=100, bbox_inches="tight")
            plt.close(figure)
            drawn.append(name)
        except (ValueError, RuntimeError, ZeroDivisionError, IndexError, KeyError):
            plt.close("all")
    return drawn


def best_table(study, objective: str, k: int = 5, title: str | None = None):
    """A rich Table of the best ``k`` completed trials."""
    from rich.table import Table

    table = Table(title=title or f"best trials by {objective} ({study.direction.name.lower()})",
                  title_justify="left")
    for column, justify in (("rank", "right"), ("trial", "right"), (objective, "right"), ("test", "left"),
                            ("params", "left"), ("time", "right")):
        table.add_column(column, justify=justify)
    for rank, t in enumerate(ranked(study)[:k], 1):
        test = t.user_attrs.get("test") or {}
        table.add_row(str(rank), str(t.number), f"{t.value:.4g}",
                      "  ".join(f"{key} {v:.4g}" for key, v in test.items() if isinstance(v, (int, float))),
                      format_params(t.params), f"{t.user_attrs.get('seconds', 0):.1f}s")
    return table


def format_params(params: dict[str, Any]) -> str:
    parts = []
    for key, value in params.items():
        if isinstance(value, float):
            value = f"{value:.3g}"
        elif isinstance(value, bool):
            value = "true" if value else "false"
        parts.append(f"{key}={value}")
    return " ".join(parts)


def open_run(run_dir: Path, storage: str | None = None):
    """(study, meta) of a search's run folder."""
    import optuna

    meta = store.read_meta(run_dir)
    url = store.storage_of(run_dir, meta, storage)
    path = store.sqlite_path(url)
    if path is not None and not path.exists():
        raise store.NoStudyError(f"{run_dir} has no study database ({path.name}); run 'netc search' first")
    try:
        study = optuna.load_study(study_name=meta["study"], storage=store.open_storage(url))
    except KeyError:
        raise store.NoStudyError(f"no study named '{meta['study']}' in {store.masked(url)}") from None
    return study, meta


def render_report(run_dir: str | Path, storage: str | None = None, console=None) -> dict[str, Any]:
    """``netc report``: write results.csv, best/ and the plots again, and print the best trials."""
    run_dir = Path(run_dir)
    study, meta = open_run(run_dir, storage)
    summary = write_reports(run_dir, study, meta.get("objective", "value"))
    if console is not None:
        console.print(best_table(study, meta.get("objective", "value")))
        counts = summary["counts"]
        console.print(f"{counts['COMPLETE']} completed, {counts['PRUNED']} pruned, {counts['FAIL']} failed; "
                      f"wrote results.csv" + "".join(f", {p}" for p in summary["plots"])
                      + (", best/model.keras" if summary["best_model"] else "") + f" in {run_dir}")
    return summary


def top_trials(path: str | Path, model: str | None, k: int, run_dir: str | Path | None = None,
               runs_root: str | Path = "runs", storage: str | None = None) -> list[TrialRecord]:
    """The ``k`` best completed trials of the search of ``model`` in ``path``, best first.

    Raises NoStudyError when that search has not been run (call ``search_file`` first).
    A trial run by a worker on another machine has its model in that machine's run folder.
    """
    from netc.runtime.search.run import default_search_dir
    from netc.runtime.search.space import decode_params, load_search

    spec = load_search(path, model)
    run = Path(run_dir) if run_dir is not None else default_search_dir(path, spec.model.name, runs_root)
    study, _ = open_run(run, storage)
    return [TrialRecord(t.number, decode_params(spec, dict(t.params)), float(t.value),
                        trial_dir(run, t.number) / "model.keras") for t in ranked(study)[:k]]
