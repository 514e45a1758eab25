"""The ``netc`` command. Renders diagnostics; the stages never print.

Exit codes: 0 no errors (warnings allowed), 1 errors in a spec, 2 usage errors.
Only ``build`` and ``train`` import Keras.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from netc import diagnostics as dg
from netc.diagnostics import Diagnostic
from netc.render import diagnostic_text, diagnostics_json, shape_text

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def _spec_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.net") if p.is_file()))
        elif path.exists():
            files.append(path)
        else:
            raise UsageError(f"no such file or directory: {raw}")
    return files


def parse_params(pairs: Sequence[str] | None) -> dict[str, Any]:
    """``--param k=v`` pairs, each value read as a spec literal (``64``, ``1e-3``, ``true``, ``(3, 3)``)."""
    from netc.compiler.pipeline import parse_literal

    params: dict[str, Any] = {}
    for pair in pairs or ():
        name, sep, text = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise UsageError(f"--param takes NAME=VALUE, but received {pair!r}")
        value, ok = parse_literal(text.strip())
        if not ok:
            raise UsageError(f"--param {name}: {text!r} is not a value (write 64, 0.5, true, \"relu\" or (3, 3))")
        params[name.strip()] = value
    return params


def _print_diagnostics(diagnostics: list[Diagnostic], sources: dict[str, str], out=None) -> None:
    out = out or sys.stderr
    for d in diagnostics:
        print(diagnostic_text(d, sources.get(d.file)), file=out)
    errors = sum(d.severity == dg.ERROR for d in diagnostics)
    warnings = sum(d.severity == dg.WARNING for d in diagnostics)
    if diagnostics:
        print(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}", file=out)


def cmd_check(args) -> int:
    from netc.compiler.pipeline import read_source, safe_analyze

    found: list[Diagnostic] = []
    sources: dict[str, str] = {}
    for path in _spec_files(args.paths):
        text, problem = read_source(path)
        if problem:
            found.append(problem)
            continue
        sources[str(path)] = text
        found += safe_analyze(text, str(path)).diagnostics
    if args.format == "json":
        print(diagnostics_json(found))
    else:
        _print_diagnostics(found, sources, sys.stdout)
    return EXIT_ERRORS if dg.has_errors(found) else EXIT_OK


def _model_graph(args):
    """(ir, graph, diagnostics, source) for the command's model, or exit 1 with the errors shown."""
    from netc.compiler.pipeline import model_ir, read_source

    if not Path(args.path).exists():
        raise UsageError(f"no such file: {args.path}")
    text, problem = read_source(args.path)
    if problem:
        return None, None, [problem], None
    ir, graph, diagnostics = model_ir(text, str(args.path), args.model, parse_params(args.param))
    if ir is not None:  # warnings go to stderr, so stdout stays clean for JSON
        _print_diagnostics(diagnostics, {str(args.path): text})
    return ir, graph, diagnostics, text


def _fail(diagnostics, source, path) -> int:
    _print_diagnostics(diagnostics, {str(path): source} if source else {})
    return EXIT_ERRORS


def cmd_summary(args) -> int:
    from netc.summary import summary_dict

    ir, graph, diagnostics, source = _model_graph(args)
    if ir is None:
        return _fail(diagnostics, source, args.path)
    summary = summary_dict(graph)
    if args.format == "json":
        print(json.dumps(summary, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"model {summary['model']}", title_justify="left")
    for column, justify in (("line", "right"), ("layer", "left"), ("name", "left"), ("output shape", "left"),
                            ("params", "right")):
        table.add_column(column, justify=justify)
    for node in graph.nodes:
        name = node.label or ""
        params = "" if node.layer == "Input" else f"{node.params:,}"
        table.add_row(str(node.line), node.layer, name, shape_text(node.shape), params)
    console = Console(width=max(100, Console().width))
    console.print(table)
    console.print(f"Total params: {summary['params']:,}  trainable: {summary['trainable_params']:,}  "
                  f"non-trainable: {summary['non_trainable_params']:,}")
    return EXIT_OK


def cmd_ir(args) -> int:
    ir, _, diagnostics, source = _model_graph(args)
    if ir is None:
        return _fail(diagnostics, source, args.path)
    print(json.dumps(ir, indent=2))
    return EXIT_OK


def cmd_build(args) -> int:
    if args.save and Path(args.save).suffix != ".keras":
        raise UsageError(f"--save writes a .keras file, but received {args.save!r}")
    ir, _, diagnostics, source = _model_graph(args)
    if ir is None:
        return _fail(diagnostics, source, args.path)
    from netc.compiler.keras_builder import build_model

    model = build_model(ir)
    model.summary()
    if args.save:
        save = Path(args.save)
        save.parent.mkdir(parents=True, exist_ok=True)
        model.save(save)
        print(f"saved {save}")
    return EXIT_OK


def cmd_train(args) -> int:
    """Train a model by its train block; errors (bad data too) are diagnostics, never tracebacks."""
    from netc.compiler.pipeline import read_source
    from netc.runtime.progress import display_for, format_logs
    from netc.runtime.train import train_file

    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs takes a positive integer, but received {args.epochs}")
    params = parse_params(args.param)
    try:
        with display_for(sys.stderr, f"train {Path(args.path).name}") as display:
            result = train_file(args.path, args.model, params, epochs=args.epochs, out=args.out, on_epoch=display)
    except dg.SpecError as e:
        return _fail(e.diagnostics, read_source(args.path)[0], args.path)
    except FileExistsError as e:
        raise UsageError(f"--out: {e}") from None
    metrics = result.metrics
    for split in ("train", "validation", "test"):
        if metrics.get(split):
            print(f"{split:<10}  {format_logs(metrics[split])}")
    if result.interrupted:
        print(f"interrupted after {metrics['epochs_run']} epochs; saved what was trained", file=sys.stderr)
    print(f"run folder: {result.run_dir}")
    return 130 if result.interrupted else EXIT_OK


def _console():
    from rich.console import Console

    return Console(width=max(110, Console().width))


def _quick(args) -> bool:
    from netc.runtime.ensemble import quick_from_env

    return quick_from_env(args.quick) and not args.full


def _positive(args, *names: str) -> None:
    for name in names:
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise UsageError(f"--{name} takes a positive integer, but received {value}")


def cmd_ensemble(args) -> int:
    """Train an ensemble's members, fit the weights, write the run folder and print the table."""
    from netc.compiler.pipeline import read_source
    from netc.runtime.ensemble import diversity_table, ensemble_file, ensemble_table
    from netc.runtime.progress import display_for

    if not Path(args.path).exists():
        raise UsageError(f"no such file: {args.path}")
    _positive(args, "epochs", "trials")
    try:
        with display_for(sys.stderr, f"ensemble {Path(args.path).name}") as display:
            result = ensemble_file(args.path, args.name, epochs=args.epochs, trials=args.trials, quick=_quick(args),
                                   out=args.out, fresh=args.fresh, log=lambda m: print(m, file=sys.stderr,
                                                                                       flush=True),
                                   on_epoch=display)
    except dg.SpecError as e:
        return _fail(e.diagnostics, read_source(args.path)[0], args.path)
    except FileExistsError as e:
        raise UsageError(f"--out: {e}") from None
    except (RuntimeError, ImportError) as e:  # a search that failed, a package that is missing
        print(f"netc ensemble: error: {e}", file=sys.stderr)
        return EXIT_ERRORS
    console = _console()
    console.print(ensemble_table(result.report))
    if len(result.report["members"]) > 1:
        console.print(diversity_table(result.report))
    print(f"run folder: {result.run_dir}")
    return EXIT_OK


def cmd_run(args) -> int:
    """The main job: every train, search and ensemble directive of a file, then the closing table."""
    from netc.compiler.pipeline import read_source
    from netc.runtime.ensemble import ensemble_table
    from netc.runtime.main_job import jobs_table, run_file, summary_table
    from netc.runtime.progress import display_for

    if not Path(args.path).exists():
        raise UsageError(f"no such file: {args.path}")
    _positive(args, "epochs", "trials")
    quick = _quick(args)
    try:
        with display_for(sys.stderr, f"run {Path(args.path).name}") as display:
            result = run_file(args.path, quick=quick, epochs=args.epochs, trials=args.trials, fresh=args.fresh,
                              log=lambda m: print(m, file=sys.stderr, flush=True), on_epoch=display)
    except dg.SpecError as e:
        return _fail(e.diagnostics, read_source(args.path)[0], args.path)
    except (RuntimeError, ImportError) as e:  # a search that failed, a package that is missing
        print(f"netc run: error: {e}; finished jobs are kept and a rerun resumes", file=sys.stderr)
        return EXIT_ERRORS
    console = _console()
    for job in result.ensembles:
        console.print(ensemble_table(job.result.report))
    if result.jobs:
        console.print(jobs_table(result))
        console.print(summary_table(result))
    print(f"{'quick run' if quick else 'run'} finished in {result.seconds:.0f}s")
    return EXIT_OK


def cmd_search(args) -> int:
    """Run (or resume) a model's search directive: a live table of trials, then the best ones."""
    from netc.compiler.pipeline import read_source
    from netc.runtime.search.run import display_for, search_file
    from netc.runtime.search.store import SearchError

    if not Path(args.path).exists():
        raise UsageError(f"no such file: {args.path}")
    _positive(args, "epochs", "trials", "workers")
    try:
        with display_for(sys.stderr) as display:
            result = search_file(args.path, args.model, trials=args.trials, epochs=args.epochs, workers=args.workers,
                                 storage=args.storage, study=args.study, out=args.out, quick=args.quick,
                                 display=display)
    except dg.SpecError as e:
        return _fail(e.diagnostics, read_source(args.path)[0], args.path)
    except SearchError as e:
        if e.result is not None:
            _search_summary(e.result, args.storage)
        print(f"netc search: {e}", file=sys.stderr)
        return EXIT_ERRORS
    _search_summary(result, args.storage)
    if result.interrupted:
        print("interrupted; run the same command again to resume", file=sys.stderr)
    return 130 if result.interrupted else EXIT_OK


def _search_summary(result, storage: str | None) -> None:
    import optuna

    from netc.runtime.search.report import best_table
    from netc.runtime.search.store import default_storage, open_storage

    if result.best_value is not None:
        study = optuna.load_study(study_name=result.study_name,
                                  storage=open_storage(storage or default_storage(Path(result.run_dir))))
        _console().print(best_table(study, result.objective))
    print(f"{result.completed}/{result.budget} trials done ({result.pruned} pruned), {result.failed} failed")
    if result.best_value is not None:
        print(f"best {result.objective}: {result.best_value:.4g} (trial {result.best_trial})")
    print(f"run folder: {result.run_dir}")


def cmd_worker(args) -> int:
    """Join a search's study (in a shared storage) and run its trials on this machine."""
    import os

    from netc.compiler.pipeline import read_source
    from netc.runtime.search.run import default_search_dir
    from netc.runtime.search.space import load_search
    from netc.runtime.search.store import STORAGE_ENV, SearchError
    from netc.runtime.search.worker import run_worker

    if not Path(args.path).exists():
        raise UsageError(f"no such file: {args.path}")
    storage = args.storage or os.environ.get(STORAGE_ENV)
    if not storage:
        raise UsageError(f"--storage URL is required (or set {STORAGE_ENV})")
    try:
        spec = load_search(args.path, args.model)
        run_dir = Path(args.out) if args.out else default_search_dir(args.path, spec.model.name)
        reason = run_worker(args.path, spec.model.name, storage, args.study, run_dir)
    except dg.SpecError as e:
        return _fail(e.diagnostics, read_source(args.path)[0], args.path)
    except (SearchError, KeyError) as e:
        print(f"netc worker: {e}", file=sys.stderr)
        return EXIT_ERRORS
    print(f"worker stopped: {reason}", file=sys.stderr)
    return 130 if reason == "interrupted" else (EXIT_ERRORS if reason.startswith("stopped") else EXIT_OK)


def cmd_report(args) -> int:
    """Write a search's results.csv, best model and plots again, and print its best trials."""
    from netc.runtime.search.report import render_report
    from netc.runtime.search.store import SearchError

    if not Path(args.run_dir).is_dir():
        raise UsageError(f"no such folder: {args.run_dir}")
    try:
        render_report(args.run_dir, storage=args.storage, console=_console())
    except SearchError as e:
        print(f"netc report: {e}", file=sys.stderr)
        return EXIT_ERRORS
    return EXIT_OK


def _ruff_format(code: str) -> str:
    """``code`` through ``ruff format`` when ruff is installed (netc's output is already laid out that way)."""
    import shutil
    import subprocess

    ruff = shutil.which("ruff")
    if ruff is None:
        return code
    try:
        done = subprocess.run([ruff, "format", "--quiet", "-"], input=code, capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return code
    return done.stdout if done.returncode == 0 and done.stdout else code


def cmd_emit(args) -> int:
    """The model as a self-contained Keras Python module; --all adds its train, search and ensemble code."""
    from netc.compiler.emit_python import emit_python
    from netc.compiler.pipeline import read_source

    if not Path(args.path).exists():
        raise UsageError(f"no such file: {args.path}")
    text, problem = read_source(args.path)
    if problem:
        return _fail([problem], None, args.path)
    code, diagnostics = emit_python(text, str(args.path), args.model, parse_params(args.param), directives=args.all)
    if code is None:
        return _fail(diagnostics, text, args.path)
    _print_diagnostics(diagnostics, {str(args.path): text})
    if not args.no_format:
        code = _ruff_format(code)
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(code, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(code)
    return EXIT_OK


def cmd_graph(args) -> int:
    """Draw the model through Graphviz: .dot writes the DOT text, .svg/.png/.pdf run dot. Imports no framework."""
    from netc.graph_dot import FORMATS, DotError, graph_dot, render

    out = Path(args.output) if args.output else None
    fmt = out.suffix.lower().lstrip(".") if out is not None else "dot"
    if fmt not in ("dot", "gv") + FORMATS:
        raise UsageError(f"-o writes .dot, .svg, .png or .pdf, but received {args.output!r}")
    ir, graph, diagnostics, source = _model_graph(args)
    if ir is None:
        return _fail(diagnostics, source, args.path)
    text = graph_dot(graph)
    if out is None:
        sys.stdout.write(text)
        return EXIT_OK
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("dot", "gv"):
        out.write_text(text, encoding="utf-8")
    else:
        try:
            render(text, out, fmt)
        except DotError as e:
            raise UsageError(str(e)) from None
    print(f"wrote {out}", file=sys.stderr)
    return EXIT_OK


def cmd_fmt(args) -> int:
    """Rewrite specs in the canonical layout; --check only reports the files that would change."""
    from netc.fmt import FormatError, format_text

    if args.paths == ["-"]:
        text = sys.stdin.read()
        try:
            formatted = format_text(text)
        except FormatError as e:
            print(f"<stdin>:{e.line}:{e.column}: {e.message}", file=sys.stderr)
            return EXIT_ERRORS
        if args.check:
            return EXIT_OK if formatted == text else EXIT_ERRORS
        sys.stdout.write(formatted)
        return EXIT_OK
    failed = changed = 0
    for path in _spec_files(args.paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            print(f"{path}: cannot read: {e}", file=sys.stderr)
            failed += 1
            continue
        try:
            formatted = format_text(text)
        except FormatError as e:
            print(f"{path}:{e.line}:{e.column}: {e.message}", file=sys.stderr)
            failed += 1
            continue
        if formatted == text:
            continue
        changed += 1
        if args.check:
            print(f"would reformat {path}")
        else:
            path.write_text(formatted, encoding="utf-8")
            print(f"reformatted {path}")
    if args.check and changed:
        return EXIT_ERRORS
    return EXIT_ERRORS if failed else EXIT_OK


def cmd_lsp(args) -> int:
    """The language server over stdio (needs pygls: pip install 'netc[lsp]')."""
    try:
        from netc.lsp.server import main as serve
    except ImportError as e:
        raise UsageError(f"the language server needs pygls ({e}); install it with: pip install 'netc[lsp]'") from None
    return serve(debounce_ms=args.debounce_ms)


def cmd_explain(args) -> int:
    text = dg.explain(args.code)
    if text is None:
        raise UsageError(f"unknown code {args.code!r}; codes look like NC102")
    print(text)
    return EXIT_OK


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a .net spec file")
    parser.add_argument("--model", help="the model to use when the file has several")
    parser.add_argument("--param", action="append", metavar="NAME=VALUE",
                        help="override a model parameter (repeatable)")


def _job_args(parser: argparse.ArgumentParser) -> None:
    """The options of ``netc ensemble`` and ``netc run``."""
    parser.add_argument("--quick", action="store_true",
                        help="tiny budgets (2 epochs, 2 trials, small trees and data); also when CI=true")
    parser.add_argument("--full", action="store_true", help="full budgets even when CI=true")
    parser.add_argument("--epochs", type=int, metavar="N", help="override every network's epochs")
    parser.add_argument("--trials", type=int, metavar="N", help="override every search's trials")
    parser.add_argument("--fresh", action="store_true",
                        help="train finished train and ensemble jobs again (a search always continues its study)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netc", description="Check, summarize and compile .net neural-network "
                                                               "specs into Keras models.")
    parser.add_argument("--version", action="version", version="netc 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="report every problem in specs (files or folders)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("summary", help="layers, output shapes and parameter counts, statically")
    _model_args(p)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("ir", help="print the intermediate form (JSON)")
    _model_args(p)
    p.set_defaults(func=cmd_ir)

    p = sub.add_parser("build", help="compile to Keras, print Keras's summary, optionally save")
    _model_args(p)
    p.add_argument("--save", metavar="OUT.keras")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("train", help="train a model by its train block; writes a run folder")
    _model_args(p)
    p.add_argument("--epochs", type=int, metavar="N", help="override the train block's epochs")
    p.add_argument("--out", metavar="DIR", help="the run folder (default: runs/<spec>/<timestamp>/)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("ensemble", help="train an ensemble's members and fit their weights; writes a run folder")
    p.add_argument("path", help="a .net spec file")
    p.add_argument("--name", help="the ensemble to run when the file has several")
    _job_args(p)
    p.add_argument("--out", metavar="DIR", help="the run folder (default: runs/<spec>/ensemble-<Name>/)")
    p.set_defaults(func=cmd_ensemble)

    p = sub.add_parser("run", help="the main job: every train, search and ensemble directive, in order")
    p.add_argument("path", help="a .net spec file")
    _job_args(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("search", help="run a model's search directive as an Optuna study (resumes its run folder)")
    p.add_argument("path", help="a .net spec file")
    p.add_argument("--model", help="the model whose search to run when the file has several")
    p.add_argument("--trials", type=int, metavar="N", help="the budget: completed trials, across resumes")
    p.add_argument("--epochs", type=int, metavar="N", help="override the train block's epochs")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes on this machine (default: the "
                                                            "directive's 'workers', else 1)")
    p.add_argument("--storage", metavar="URL", help="the study's database, e.g. postgresql://user:pw@host/db "
                                                    "(default: SQLite in the run folder)")
    p.add_argument("--study", metavar="NAME", help="the study's name (default: <spec>-<Model>)")
    p.add_argument("--out", metavar="DIR", help="the run folder (default: runs/<spec>/search-<Model>/)")
    p.add_argument("--quick", action="store_true", help="a smoke test: 3 trials, 2 epochs, 800 samples")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("worker", help="join a search's study from this machine (shared --storage)")
    p.add_argument("path", help="the .net spec file of the search")
    p.add_argument("--model", help="the model whose search to join when the file has several")
    p.add_argument("--storage", metavar="URL", help="the study's database (or NETC_SEARCH_STORAGE)")
    p.add_argument("--study", metavar="NAME", required=True, help="the study's name")
    p.add_argument("--out", metavar="DIR", help="where this machine keeps its trials "
                                                "(default: runs/<spec>/search-<Model>/)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("report", help="a search's results.csv, best model and plots, again; prints its best trials")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the search's run folder")
    p.add_argument("--storage", metavar="URL", help="the study's database, when it is not the folder's study.db")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("emit", help="write the model as readable Keras Python (a self-contained module)")
    _model_args(p)
    p.add_argument("--all", action="store_true",
                   help="also write the train, search and ensemble directives (Keras, Optuna, scikit-learn)")
    p.add_argument("-o", "--output", metavar="OUT.py", help="write to a file instead of standard output")
    p.add_argument("--no-format", action="store_true", help="do not pass the code through ruff format")
    p.set_defaults(func=cmd_emit)

    p = sub.add_parser("graph", help="draw the model with Graphviz (no framework imported)")
    _model_args(p)
    p.add_argument("-o", "--output", metavar="OUT.svg|OUT.png|OUT.dot",
                   help="the diagram to write (default: DOT text on standard output)")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("fmt", help="rewrite specs in the canonical layout (comments kept)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders; '-' formats standard input")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("lsp", help="run the language server over stdio (for editors)")
    p.add_argument("--stdio", action="store_true", help="serve over stdin/stdout (the default and only transport)")
    p.add_argument("--debounce-ms", type=float, default=None, metavar="MS",
                   help="wait this long after a change before analyzing (default 0: changes that arrive "
                        "during an analysis are coalesced anyway)")
    p.set_defaults(func=cmd_lsp)

    p = sub.add_parser("explain", help="explain a diagnostic code, e.g. NC102")
    p.add_argument("code")
    p.set_defaults(func=cmd_explain)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        print(f"netc {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `netc check specs | head`: the reader left, nothing to report
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
