"""``netc run PATH``: every train, search and ensemble directive of a file, in dependency order.

Order: the train blocks (each with its defaults; a model that a search targets
is trained by its search's trials instead), then the searches, then the
ensembles (whose ``Model.top(k)`` members need the searches). Each job has a
stable run folder under ``runs/<spec>/`` (``train-<Model>``,
``search-<Model>``, ``ensemble-<Name>``); ``--quick`` jobs live apart under
``runs/quick/``. Running again resumes: a job whose folder is complete for
the same definitions and settings is not run again (``jobs.json`` beside the
folders records which), a search continues its study, an ensemble keeps the
members it finished.

The job ends with the test accuracy of the best single model (the ensemble's
member with the best validation score, chosen without looking at the test
data) and of the ensemble.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netc import diagnostics as dg
from netc.compiler.pipeline import analyze, read_source
from netc.diagnostics import SpecError
from netc.runtime.ensemble import QUICK_EPOCHS, QUICK_TRIALS, ensemble_file, job_root
from netc.runtime.ensemble_plan import fingerprint
from netc.runtime.runfolder import MARKER

JOBS_FILE = "jobs.json"


@dataclass
class JobOutcome:
    """One directive's job: what ran (or was resumed) and its headline numbers."""

    kind: str                     # train | search | ensemble
    name: str                     # the model or ensemble name
    run_dir: Path | None
    resumed: bool
    seconds: float
    validation: dict | None = None  # loss / accuracy of the job's model on its validation data
    test: dict | None = None
    detail: str = ""
    result: Any = None            # TrainResult, SearchResult or EnsembleResult


@dataclass
class RunResult:
    spec: str
    quick: bool
    jobs: list[JobOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ensembles(self) -> list[JobOutcome]:
        return [j for j in self.jobs if j.kind == "ensemble"]

    def summary_rows(self) -> list[dict]:
        """The closing table: for each ensemble, its best single member and the ensemble itself, on test data.

        Without an ensemble: the single model with the best validation accuracy among the jobs.
        """
        rows = []
        for job in self.ensembles:
            report = job.result.report
            best = report["best_single"]
            rows.append({"what": "best single model", "model": f"{best['label']} (member of {job.name})",
                         "validation": best["validation"], "test": best["test"]})
            rows.append({"what": f"ensemble {job.name}", "model": f"{len(report['members'])} members, "
                                                                   f"{report['fit']['method']} weights",
                         "validation": report["metrics"]["validation"], "test": report["metrics"]["test"]})
        if not rows:
            scored = [j for j in self.jobs if j.validation and "accuracy" in j.validation]
            if scored:
                best = max(scored, key=lambda j: j.validation["accuracy"])
                rows.append({"what": "best single model", "model": f"{best.kind} {best.name} {best.detail}".strip(),
                             "validation": best.validation, "test": best.test})
        return rows


def run_file(path: str | Path, *, quick: bool = False, runs_root: str | Path = "runs", epochs: int | None = None,
             trials: int | None = None, fresh: bool = False, log: Callable[[str], None] | None = None,
             on_epoch: Callable | None = None) -> RunResult:
    """Run every train, search and ensemble directive of a spec file; see the module's docstring.

    ``quick`` shrinks epochs (to 2), trials (to 2), trees and the ensemble's
    training data; ``epochs``/``trials`` override every job's; ``fresh`` reruns
    finished jobs. Raises SpecError before anything runs if the file has errors.
    """
    log = log or (lambda message: None)
    started = time.perf_counter()
    text, problem = read_source(path)
    if problem:
        raise SpecError([problem])
    analysis = analyze(text, str(path))
    if dg.has_errors(analysis.diagnostics):
        raise SpecError([d for d in analysis.diagnostics if d.severity == dg.ERROR])
    module = analysis.module
    if quick:
        epochs = epochs if epochs is not None else QUICK_EPOCHS
        trials = trials if trials is not None else QUICK_TRIALS
    root = job_root(runs_root, quick) / Path(path).stem
    result = RunResult(str(path), quick)
    settings = {"epochs": epochs, "trials": trials, "quick": quick}
    jobs = _Jobs(root)
    for kind, name in plan_jobs(module):
        if kind == "train":
            key = _key(fingerprint(text, module, [name]), settings)
            result.jobs.append(_train_job(path, name, key, root, jobs, epochs, fresh, log, on_epoch))
        elif kind == "search":
            key = _key(fingerprint(text, module, [name, f"search:{name}"]), settings)
            result.jobs.append(_search_job(path, name, key, root, jobs, epochs, trials, quick, runs_root, fresh, log))
        else:
            log(f"ensemble {name}: starting")
            begun = time.perf_counter()
            done = ensemble_file(path, name, epochs=epochs, trials=trials, quick=quick, runs_root=runs_root,
                                 fresh=fresh, log=log, on_epoch=on_epoch)
            metrics = done.report["metrics"]
            result.jobs.append(JobOutcome("ensemble", name, done.run_dir, done.resumed, time.perf_counter() - begun,
                                          metrics["validation"], metrics["test"],
                                          f"{len(done.report['members'])} members", done))
    if not result.jobs:
        log(f"{path} has no train, search or ensemble directive: nothing to run")
    result.seconds = time.perf_counter() - started
    return result


def plan_jobs(module) -> list[tuple[str, str]]:
    """(kind, name) of every job, in the order they run: train blocks, searches, ensembles.

    A train block whose model a search targets is left out: the search's trials run it.
    Ensembles come last because their ``Model.top(k)`` members need the searches.
    """
    searched = {s.name for s in module.of_kind("search")}
    return ([("train", t.name) for t in module.of_kind("train") if t.name not in searched]
            + [("search", s.name) for s in module.of_kind("search")]
            + [("ensemble", e.name) for e in module.of_kind("ensemble")])


def _key(definitions: str, settings: dict) -> str:
    return f"{definitions}:{json.dumps(settings, sort_keys=True)}"


class _Jobs:
    """jobs.json: which finished run folder holds which job (its key), so a rerun can skip it."""

    def __init__(self, root: Path):
        self.root = root
        self.path = root / JOBS_FILE

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def finished(self, job: str, key: str) -> Path | None:
        entry = self._read().get(job)
        if not entry or entry.get("key") != key:
            return None
        folder = self.root / entry["folder"]
        return folder if folder.is_dir() and not (folder / MARKER).exists() else None

    def record(self, job: str, key: str, folder: Path, summary: dict) -> None:
        data = self._read()
        data[job] = {"key": key, "folder": os.path.relpath(folder, self.root), **summary}
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{JOBS_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def free_folder(self, base: str) -> Path:
        """``base`` or ``base-2``, ``base-3``...: the first name with no folder yet."""
        target, n = self.root / base, 1
        while target.exists() or (target.parent / f".{target.name}.partial").exists():
            n += 1
            target = self.root / f"{base}-{n}"
        return target


def _train_job(path, model: str, key: str, root: Path, jobs: _Jobs, epochs, fresh, log, on_epoch) -> JobOutcome:
    job = f"train-{model}"
    done = None if fresh else jobs.finished(job, key)
    if done is not None:
        metrics = _read_json(done / "metrics.json")
        if metrics is not None:
            log(f"train {model}: finished earlier in {done}; reusing it")
            return JobOutcome("train", model, done, True, 0.0, metrics.get("validation"), metrics.get("test"))
    from netc.runtime.train import train_file

    log(f"train {model}: training")
    begun = time.perf_counter()
    trained = train_file(path, model, None, epochs=epochs, out=jobs.free_folder(job), on_epoch=on_epoch)
    jobs.record(job, key, trained.run_dir, {"test": trained.metrics.get("test")})
    return JobOutcome("train", model, trained.run_dir, False, time.perf_counter() - begun,
                      trained.metrics.get("validation"), trained.metrics.get("test"), result=trained)


def _search_job(path, model: str, key: str, root: Path, jobs: _Jobs, epochs, trials, quick, runs_root, fresh,
                log) -> JobOutcome:
    from netc.runtime import search

    job = f"search-{model}"
    done = None if fresh else jobs.finished(job, key)
    begun = time.perf_counter()
    if done is not None:
        log(f"search {model}: finished earlier in {done}; reusing it")
        resumed, result = True, None
    else:
        log(f"search {model}: running (a search resumes its study when one exists)")
        result = search.search_file(path, model, trials=trials, epochs=epochs, quick=quick,
                                    runs_root=job_root(runs_root, quick))
        done, resumed = Path(result.run_dir), False
    validation, test, detail = None, None, ""
    try:
        best = search.top_trials(path, model, 1, run_dir=done)
    except Exception:  # noqa: BLE001 - a study without a finished trial has no best one
        best = []
    if best:
        record = best[0]
        detail = f"trial {record.number}"
        metrics = _read_json(Path(record.model_path).parent / "metrics.json") if record.model_path else None
        if metrics:
            validation, test = metrics.get("validation"), metrics.get("test")
    if not resumed:
        jobs.record(job, key, done, {"best": detail})
    return JobOutcome("search", model, done, resumed, time.perf_counter() - begun, validation, test, detail, result)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---- what people see ---------------------------------------------------------------

def jobs_table(result: RunResult):
    """Every job: what it was, whether it ran or was reused, its validation and test accuracy."""
    from rich.table import Table

    table = Table(title=f"netc run {result.spec}" + (" (quick)" if result.quick else ""), title_justify="left")
    for column, justify in (("job", "left"), ("", "left"), ("val accuracy", "right"), ("test accuracy", "right"),
                            ("time", "right"), ("run folder", "left")):
        table.add_column(column, justify=justify)
    for job in result.jobs:
        table.add_row(f"{job.kind} {job.name}", job.detail, _acc(job.validation), _acc(job.test),
                      "reused" if job.resumed else f"{job.seconds:.0f}s", str(job.run_dir or ""))
    return table


def summary_table(result: RunResult):
    """The closing table: test accuracy (and error) of the best single model and of the ensemble."""
    from rich.table import Table

    table = Table(title="the main job's result, on the test data", title_justify="left")
    for column, justify in (("", "left"), ("model", "left"), ("val accuracy", "right"), ("test accuracy", "right"),
                            ("test error", "right")):
        table.add_column(column, justify=justify)
    for row in result.summary_rows():
        test = row["test"] or {}
        table.add_row(row["what"], row["model"], _acc(row["validation"]), _acc(test),
                      f"{100 * (1 - test['accuracy']):.2f}%" if "accuracy" in test else "",
                      style="bold" if row["what"].startswith("ensemble") else None)
    return table


def _acc(scores: dict | None) -> str:
    return f"{scores['accuracy']:.4f}" if scores and scores.get("accuracy") is not None else ""
