"""`netc search` against KerasTuner: the same search space and budget on MNIST-1D, in one run.

The space is LANGUAGE.md's search of the Tunable model (width, depth, norm,
dropout, learning rate), each trial trained by Tunable's train block of
specs/mnist1d.net (RMSprop, batch 64, validation_split 0.2, EarlyStopping with
patience 5) for at most EPOCHS epochs; the budget is TRIALS trials, the
objective val_accuracy.

- KerasTuner: RandomSearch, max_trials=TRIALS, one process (how KerasTuner runs).
- netc: the spec's search with strategy tpe, prune hyperband, and 2 worker processes.

Each side runs in a fresh process of this Python; the clock starts after
Keras (and KerasTuner or netc) are imported and covers the whole search to
the best model's test accuracy, data generation included. netc's worker and
trial processes are counted whole, their imports included.

Targets: wall-time ratio netc/KerasTuner at most 0.5; best model's test accuracy at least KerasTuner's.

Run: python bench/search_vs_kerastuner.py [--trials 10] [--epochs 20] [--workers 2]
(needs keras-tuner: pip install -e ".[bench]")
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = 0

SPEC = """
model Tunable(width: int = 64, depth: int = 2, norm: bool = true, dropout: float = 0.3) {
    input x: (40, 1)
    repeat depth {
        Conv1D(width, 5, padding="same")
        if norm { BatchNormalization() }
        ReLU()
    }
    GlobalAveragePooling1D()
    Dropout(dropout)
    Dense(10, activation="softmax")
}

train Tunable(lr: float = 1e-3) {
    data mnist1d()
    test_data mnist1d(split="test")
    optimizer RMSprop(learning_rate=lr)
    loss "sparse_categorical_crossentropy"
    metrics ["accuracy"]
    epochs EPOCHS
    batch_size 64
    validation_split 0.2
    callbacks [EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=true)]
    seed 0
}

search Tunable {
    width   = choice(32, 64, 128)
    depth   = int(1, 4)
    norm    = choice(true, false)
    dropout = uniform(0.0, 0.5)
    lr      = loguniform(1e-4, 1e-2)
    strategy tpe
    trials TRIALS
    objective val_accuracy maximize
    prune hyperband
    seed 0
}
"""


def kerastuner_run(trials: int, epochs: int, out: Path) -> dict:
    import keras
    import keras_tuner
    import numpy as np
    from mnist1d.data import get_dataset_args, make_dataset

    start = time.perf_counter()
    data = make_dataset(get_dataset_args())
    x, y = data["x"].astype(np.float32)[..., None], data["y"].astype(np.int32)
    x_test, y_test = data["x_test"].astype(np.float32)[..., None], data["y_test"].astype(np.int32)

    def build(hp):
        keras.utils.set_random_seed(SEED)
        inputs = keras.Input(shape=(40, 1), name="x")
        h = inputs
        width, norm = hp.Choice("width", [32, 64, 128]), hp.Boolean("norm")
        for _ in range(hp.Int("depth", 1, 4)):
            h = keras.layers.Conv1D(width, 5, padding="same")(h)
            if norm:
                h = keras.layers.BatchNormalization()(h)
            h = keras.layers.ReLU()(h)
        h = keras.layers.GlobalAveragePooling1D()(h)
        h = keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5))(h)
        outputs = keras.layers.Dense(10, activation="softmax")(h)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=hp.Float("lr", 1e-4, 1e-2, sampling="log")),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    tuner = keras_tuner.RandomSearch(build, objective="val_accuracy", max_trials=trials, seed=SEED,
                                     directory=str(out), project_name="kt", overwrite=True)
    tuner.search(x, y, epochs=epochs, batch_size=64, validation_split=0.2, verbose=0,
                 callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)])
    best = tuner.get_best_models(1)[0]
    test = best.evaluate(x_test, y_test, batch_size=64, verbose=0, return_dict=True)
    return {"seconds": time.perf_counter() - start, "test_accuracy": test["accuracy"],
            "best_params": tuner.get_best_hyperparameters(1)[0].values, "trials": trials}


def netc_run(trials: int, epochs: int, workers: int, out: Path) -> dict:
    import keras  # noqa: F401  imported before the clock starts, as in kerastuner_run
    import optuna  # noqa: F401

    from netc.runtime.search import search_file

    spec = out / "tunable_search.net"
    spec.write_text(SPEC.replace("EPOCHS", str(epochs)).replace("TRIALS", str(trials)), encoding="utf-8")
    start = time.perf_counter()
    result = search_file(spec, "Tunable", workers=workers, out=out / "search")
    seconds = time.perf_counter() - start
    metrics = json.loads((Path(result.run_dir) / "best" / "metrics.json").read_text())
    return {"seconds": seconds, "test_accuracy": metrics["test"]["accuracy"], "best_params": result.best_params,
            "trials": result.completed, "pruned": result.pruned, "failed": result.failed}


def child(side: str, trials: int, epochs: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        os.environ["NETC_CACHE_DIR"] = str(out / "cache")  # netc generates MNIST-1D in the run too
        result = kerastuner_run(trials, epochs, out) if side == "kerastuner" else netc_run(trials, epochs, workers, out)
    print("RESULT " + json.dumps(result, default=str))


def measure(side: str, args) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", side, "--trials", str(args.trials), "--epochs",
                           str(args.epochs), "--workers", str(args.workers)], capture_output=True, text=True,
                          cwd=ROOT)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{side} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--child", choices=("kerastuner", "netc"))
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.trials, args.epochs, args.workers)
        return
    tuner = measure("kerastuner", args)
    print(f"KerasTuner RandomSearch: {tuner['seconds']:.1f}s, best test accuracy {tuner['test_accuracy']:.4f}",
          flush=True)
    ours = measure("netc", args)
    print(f"netc search (tpe, hyperband, {args.workers} workers): {ours['seconds']:.1f}s, best test accuracy "
          f"{ours['test_accuracy']:.4f} ({ours['pruned']} of {ours['trials']} trials pruned)", flush=True)
    ratio = ours["seconds"] / tuner["seconds"]
    time_ok, accuracy_ok = ratio <= 0.5, ours["test_accuracy"] >= tuner["test_accuracy"]
    print(f"wall-time ratio netc/KerasTuner: {ratio:.2f} (target <= 0.5: {'met' if time_ok else 'NOT met'}); "
          f"test accuracy {'>=' if accuracy_ok else '<'} KerasTuner's (target: {'met' if accuracy_ok else 'NOT met'})")
    if args.no_write:
        return
    body = (f"MNIST-1D, LANGUAGE.md's search space of Tunable, {args.trials} trials x at most {args.epochs} epochs "
            f"(EarlyStopping patience 5), objective val_accuracy. `python bench/search_vs_kerastuner.py`.\n\n"
            "| | wall time | best model's test accuracy | notes |\n|---|---|---|---|\n"
            f"| KerasTuner RandomSearch | {tuner['seconds']:.1f}s | {tuner['test_accuracy']:.4f} | one process |\n"
            f"| netc search | {ours['seconds']:.1f}s | {ours['test_accuracy']:.4f} | tpe, hyperband "
            f"({ours['pruned']} of {ours['trials']} trials pruned), {args.workers} workers, a process per trial |\n\n"
            f"Wall-time ratio netc/KerasTuner: **{ratio:.2f}** (target at most 0.5: {'met' if time_ok else 'not met'}). "
            f"Test accuracy target (at least KerasTuner's): {'met' if accuracy_ok else 'not met'}.\n")
    write_section("Search: netc vs KerasTuner", body)


if __name__ == "__main__":
    main()
