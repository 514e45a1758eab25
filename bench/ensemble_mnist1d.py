"""The main job on MNIST-1D: its ensemble against its best single member and KerasTuner's RandomSearch.

1. ``netc run specs/mnist1d.net`` in a fresh process, from an empty working
   folder (nothing to resume): its wall time and CPU time.
2. The ensemble it saved and its best single member (the member with the best
   validation score, chosen without the test data) predict two test sets: the
   default MNIST-1D test split (1,000 samples) and 10,000 samples generated with
   another seed (``mnist1d(seed=1, num_samples=50000)``, test split).
3. KerasTuner's RandomSearch on the Tunable space of LANGUAGE.md (width, depth,
   norm, dropout, lr), 10 trials x 20 epochs, validation_split 0.2, objective
   val_accuracy; its best model predicts the same two test sets.

Target: ensemble test error at most 0.6% on the default test set, the whole
main job within 30 minutes on 2 CPU cores.

Run: python bench/ensemble_mnist1d.py [--workdir DIR] [--skip-tuner] [--quick] [--write]
(keras-tuner is needed for step 3: pip install keras-tuner)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_section

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "mnist1d.net"
OTHER_SEED, OTHER_SAMPLES = 1, 50_000  # its test split: 10,000 samples


def main_job(workdir: Path, quick: bool) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if not quick:
        env.pop("CI", None)
    argv = [sys.executable, "-m", "netc", "run", str(SPEC)] + (["--quick"] if quick else ["--full"])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    (workdir / "netc-run.log").write_text(done.stdout + "\n" + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"netc run failed ({done.returncode}):\n{done.stderr[-4000:]}")
    print(done.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    timing = {"wall_s": wall, "cpu_s": cpu, "load_after": os.getloadavg()}
    (workdir / "timing.json").write_text(json.dumps(timing))
    return timing


def test_sets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from netc.runtime.loaders import _mnist1d_arrays

    default = _mnist1d_arrays(42, 5000)
    other = _mnist1d_arrays(OTHER_SEED, OTHER_SAMPLES)
    return {"default (1,000)": (np.array(default["x_test"]), np.array(default["y_test"])),
            "seed 1 (10,000)": (np.array(other["x_test"]), np.array(other["y_test"]))}


def error(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) != y))


def ensemble_errors(run_dir: Path, sets: dict) -> tuple[dict, dict, dict]:
    import netc

    report = json.loads((run_dir / "ensemble.json").read_text())
    ensemble = netc.load_ensemble(run_dir)
    best = report["best_single"]["index"]
    ens, single, uniform = {}, {}, {}
    for name, (x, y) in sets.items():
        members = ensemble.member_predictions(x)
        weights = np.asarray(ensemble.weights)
        ens[name] = error(sum(w * p for w, p in zip(weights, members)), y)
        single[name] = error(members[best], y)
        uniform[name] = error(sum(members) / len(members), y)
    return ens, single, uniform, report


def keras_tuner_errors(sets: dict, trials: int, epochs: int) -> tuple[dict, float]:
    import keras
    import keras_tuner as kt

    from netc.runtime.loaders import _mnist1d_arrays

    data = _mnist1d_arrays(42, 5000)
    x, y = np.array(data["x"])[..., None], np.array(data["y"])

    def build(hp):
        width = hp.Choice("width", [32, 64, 128])
        depth = hp.Int("depth", 1, 4)
        norm = hp.Boolean("norm")
        dropout = hp.Float("dropout", 0.0, 0.5)
        lr = hp.Float("lr", 1e-4, 1e-2, sampling="log")
        inputs = keras.Input((40, 1))
        h = inputs
        for _ in range(depth):
            h = keras.layers.Conv1D(width, 5, padding="same")(h)
            if norm:
                h = keras.layers.BatchNormalization()(h)
            h = keras.layers.ReLU()(h)
        h = keras.layers.GlobalAveragePooling1D()(h)
        h = keras.layers.Dropout(dropout)(h)
        model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
        model.compile(optimizer=keras.optimizers.RMSprop(lr), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tuner = kt.RandomSearch(build, objective="val_accuracy", max_trials=trials, seed=0, directory=tmp,
                                project_name="tunable", overwrite=True)
        tuner.search(x, y, epochs=epochs, batch_size=64, validation_split=0.2, verbose=0)
        best = tuner.get_best_models(1)[0]
        errors = {name: error(best.predict(xs[..., None], verbose=0), ys) for name, (xs, ys) in sets.items()}
    return errors, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where `netc run` runs (default: a fresh temporary folder); "
                                                     "an existing one resumes")
    parser.add_argument("--skip-run", action="store_true", help="reuse the finished run in --workdir")
    parser.add_argument("--skip-tuner", action="store_true")
    parser.add_argument("--quick", action="store_true", help="the --quick main job (a smoke test of this script)")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="netc-main-job-"))
    workdir.mkdir(parents=True, exist_ok=True)
    timing = None if args.skip_run else main_job(workdir, args.quick)
    if timing is None and (workdir / "timing.json").exists():
        timing = json.loads((workdir / "timing.json").read_text())
    run_dir = workdir / "runs" / ("quick/" if args.quick else "") / "mnist1d" / "ensemble-Main"
    sets = test_sets()
    ens, single, uniform, report = ensemble_errors(run_dir, sets)
    tuner, tuner_s = None, None
    cache = workdir / f"keras_tuner-{args.trials}x{args.epochs}.json"
    if not args.skip_tuner:
        if cache.exists():
            tuner, tuner_s = json.loads(cache.read_text())
        else:
            tuner, tuner_s = keras_tuner_errors(sets, args.trials, args.epochs)
            cache.write_text(json.dumps([tuner, tuner_s]))

    best = report["best_single"]["label"]
    lines = ["| model | " + " | ".join(f"test error, {name}" for name in sets) + " |",
             "| --- | " + " | ".join("---" for _ in sets) + " |",
             f"| the main job's ensemble ({len(report['members'])} members, {report['fit']['method']}) | "
             + " | ".join(f"**{100 * ens[n]:.2f}%**" for n in sets) + " |",
             f"| its best single member ({best}) | " + " | ".join(f"{100 * single[n]:.2f}%" for n in sets) + " |",
             "| (for reference, not chosen: the same members with uniform weights) | "
             + " | ".join(f"{100 * uniform[n]:.2f}%" for n in sets) + " |"]
    if tuner is not None:
        lines.append(f"| KerasTuner RandomSearch, {args.trials} trials x {args.epochs} epochs (Tunable space) | "
                     + " | ".join(f"{100 * tuner[n]:.2f}%" for n in sets) + " |")
    members = ", ".join(f"{m['label']} ({m['weight']:.2f})" for m in report["members"])
    samples = report["data"]["samples"]
    body = ("`netc run specs/mnist1d.net` from an empty folder"
            + (" (--quick)" if args.quick else "") + ": train blocks, the search, then the ensemble "
            f"(every member trained on the same {samples['member_training']:,} of the {samples['used']:,} training "
            f"samples, weights fitted on the other {samples['validation']:,}). Members (weight): "
            f"{members}.\n\n" + "\n".join(lines) + "\n\n")
    if timing:
        cpu = f", {timing['cpu_s'] / 60:.1f} min CPU" if timing.get("cpu_s") else ""
        loads = timing.get("load_after") or timing.get("load_before")
        load = (f"; the machine's 15-minute load average was {loads[2]:.1f} when it ended (other work shared its "
                "2 cores, so the wall time is an upper bound)" if loads else "")
        body += f"Main job: **{timing['wall_s'] / 60:.1f} min** wall{cpu} (target: 30 min on 2 cores){load}."
    if tuner_s:
        body += f" KerasTuner: {tuner_s / 60:.1f} min wall."
    body += " Target: ensemble test error at most 0.6% on the default test set.\n"
    print(body)
    if args.write:
        write_section("The main job: ensemble vs best single model vs KerasTuner (MNIST-1D)", body)


if __name__ == "__main__":
    main()
