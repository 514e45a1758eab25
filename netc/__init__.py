"""netc: a compiler for declarative neural-network specs.

    >>> import netc
    >>> netc.check_string("model M { input x: (4,) Dense(2) }")
    []
    >>> model = netc.compile_file("specs/seed/small_sep_conv.net")   # a keras.Model

Checking never imports a framework; only compiling a model imports Keras.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from netc.diagnostics import Diagnostic, SpecError, Span  # noqa: F401

__version__ = "0.1.0"
__all__ = ["Diagnostic", "SpecError", "check_file", "check_string", "compile_file", "compile_string",
           "ir_file", "ir_string", "train_file", "ensemble_file", "load_ensemble", "run_file"]


def check_string(text: str, path: str = "<string>") -> list[Diagnostic]:
    """Every diagnostic of a spec's text. Never raises, never imports a framework."""
    from netc.compiler.pipeline import safe_analyze

    return safe_analyze(text, str(path)).diagnostics


def check_file(path: str | Path) -> list[Diagnostic]:
    """Every diagnostic of a spec file (a read failure is a diagnostic too)."""
    from netc.compiler.pipeline import read_source

    text, problem = read_source(path)
    return [problem] if problem else check_string(text, str(path))


def ir_string(text: str, model: str | None = None, path: str = "<string>", **params: Any) -> dict:
    """The intermediate form (JSON-ready dict) of one model; raises SpecError on errors."""
    from netc.compiler.pipeline import model_ir

    ir, _, diagnostics = model_ir(text, str(path), model, params)
    if ir is None:
        raise SpecError(diagnostics)
    return ir


def ir_file(path: str | Path, model: str | None = None, **params: Any) -> dict:
    from netc.compiler.pipeline import read_source

    text, problem = read_source(path)
    if problem:
        raise SpecError([problem])
    return ir_string(text, model, str(path), **params)


def compile_string(text: str, model: str | None = None, path: str = "<string>", **params: Any):
    """A keras.Model built from one model of a spec; ``params`` override its defaults."""
    from netc.compiler.keras_builder import build_model

    return build_model(ir_string(text, model, path, **params))


def compile_file(path: str | Path, model: str | None = None, **params: Any):
    """A keras.Model built from one model of a spec file; ``params`` override its defaults."""
    from netc.compiler.keras_builder import build_model

    return build_model(ir_file(path, model, **params))


def train_file(path: str | Path, model: str | None = None, *, epochs: int | None = None, out: str | Path | None = None,
               on_epoch=None, **params: Any):
    """Train a model of a spec file by its train block; returns a TrainResult (model, history, metrics, run_dir).

    ``params`` bind model and train parameters by name (``width=32, lr=1e-3``);
    ``epochs`` overrides the block's; ``out`` is the run folder (default
    ``runs/<spec>/<timestamp>/``). Raises SpecError, or DataError for bad data,
    before anything is trained.
    """
    from netc.runtime.train import train_file as run

    return run(path, model, params, epochs=epochs, out=out, on_epoch=on_epoch)


def ensemble_file(path: str | Path, name: str | None = None, *, epochs: int | None = None, trials: int | None = None,
                  quick: bool = False, out: str | Path | None = None, runs_root: str | Path = "runs",
                  fresh: bool = False, log=None, on_epoch=None):
    """Train an ensemble directive's members, fit their weights, write its run folder; returns an EnsembleResult.

    The result has ``ensemble`` (``.predict(x)``), ``report`` (ensemble.json: members, weights, metrics,
    diversity) and ``run_dir``. A finished run of the same spec and settings is reused unless ``fresh``.
    """
    from netc.runtime.ensemble import ensemble_file as run

    return run(path, name, epochs=epochs, trials=trials, quick=quick, out=out, runs_root=runs_root, fresh=fresh,
               log=log, on_epoch=on_epoch)


def load_ensemble(path: str | Path):
    """The ensemble saved in a run folder (``netc ensemble`` or ``netc run``): ``load_ensemble(dir).predict(x)``."""
    from netc.runtime.ensemble import load_ensemble as load

    return load(path)


def run_file(path: str | Path, *, quick: bool = False, runs_root: str | Path = "runs", epochs: int | None = None,
             trials: int | None = None, fresh: bool = False, log=None, on_epoch=None):
    """The main job (``netc run``): every train, search and ensemble directive of a file, resuming finished work."""
    from netc.runtime.main_job import run_file as run

    return run(path, quick=quick, runs_root=runs_root, epochs=epochs, trials=trials, fresh=fresh, log=log,
               on_epoch=on_epoch)
