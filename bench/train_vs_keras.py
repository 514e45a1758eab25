"""`netc train` against hand-written Keras: the same model, data, epochs and seed on MNIST-1D.

The model is Tunable of specs/mnist1d.net (LANGUAGE.md's model with its train
block: RMSprop(1e-3), batch 64, validation_split 0.2, EarlyStopping, seed 0).
Each measurement runs in a fresh process of this Python, netc and Keras
alternating, so neither inherits the other's warm caches. Inside the process
the clock starts after the imports (both import Keras and mnist1d alike) and
covers what each deliverable costs:

- Keras: generate the data, build, compile, fit, evaluate on the test split, save model.keras;
- netc: ``netc.train_file`` (check the spec, generate the data, build, compile,
  fit, evaluate, and write the whole run folder: model.keras, history, metrics,
  learning curves, resolved spec, IR).

Targets: wall-time ratio netc/Keras at most 1.05; the same test accuracy within seed noise.

Run: python bench/train_vs_keras.py [--epochs 10] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "mnist1d.net"
SEED = 0  # the `seed` of Tunable's train block


def keras_run(epochs: int, out: Path) -> dict:
    """The hand-written Keras program a user would write for Tunable's train block."""
    import keras
    import numpy as np
    from mnist1d.data import get_dataset_args, make_dataset

    start, cpu = time.perf_counter(), time.process_time()
    data = make_dataset(get_dataset_args())
    x, y = data["x"].astype(np.float32)[..., None], data["y"].astype(np.int32)
    x_test, y_test = data["x_test"].astype(np.float32)[..., None], data["y_test"].astype(np.int32)
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape=(40, 1), name="x")
    h = inputs
    for _ in range(2):
        h = keras.layers.Conv1D(64, 5, padding="same")(h)
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.ReLU()(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    h = keras.layers.Dropout(0.3)(h)
    outputs = keras.layers.Dense(10, activation="softmax")(h)
    model = keras.Model(inputs, outputs, name="Tunable")
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=64, validation_split=0.2, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)])
    test = model.evaluate(x_test, y_test, batch_size=64, verbose=0, return_dict=True)
    model.save(out / "model.keras")
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "test_accuracy": test["accuracy"]}


def netc_run(epochs: int, out: Path) -> dict:
    import keras  # noqa: F401  imported before the clock starts, as in keras_run
    import mnist1d.data  # noqa: F401

    import netc

    start, cpu = time.perf_counter(), time.process_time()
    result = netc.train_file(SPEC, model="Tunable", epochs=epochs, out=out / "run")
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "test_accuracy": result.metrics["test"]["accuracy"]}


def child(which: str, epochs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.environ["NETC_CACHE_DIR"] = str(Path(folder) / "cache")  # netc generates MNIST-1D too: the same work
        result = (keras_run if which == "keras" else netc_run)(epochs, Path(folder))
    print("RESULT " + json.dumps(result))


def measure(which: str, epochs: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", which, "--epochs", str(epochs)], capture_output=True,
                         text=True, cwd=str(ROOT), check=True)
    line = next(l for l in out.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=("keras", "netc"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.epochs)
        return
    runs: dict[str, list[dict]] = {"keras": [], "netc": []}
    for i in range(args.repeats):
        for which in (("keras", "netc") if i % 2 == 0 else ("netc", "keras")):
            runs[which].append(measure(which, args.epochs))
            print(which, runs[which][-1], flush=True)
    wall = {k: sorted(r["seconds"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["cpu_seconds"] for r in v) for k, v in runs.items()}
    median = {k: statistics.median(v) for k, v in wall.items()}
    accuracy = {k: [round(r["test_accuracy"], 4) for r in v] for k, v in runs.items()}
    rows = [f"| {label} | {median[k]:.2f} | {wall[k][0]:.2f} | {wall[k][-1]:.2f} | {cpu[k]:.2f} | "
            f"{', '.join(map(str, accuracy[k]))} |" for k, label in (("keras", "hand-written Keras"),
                                                                      ("netc", "netc.train_file"))]
    body = "\n".join([
        f"Tunable of specs/mnist1d.net on MNIST-1D (4,000 train, 1,000 test), {args.epochs} epochs, seed {SEED}, "
        f"{args.repeats} fresh processes each, alternating; times exclude imports. netc's time includes writing "
        "the whole run folder.",
        "",
        "| | median wall s | min wall s | max wall s | median CPU s | test accuracy per run |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Wall-time ratio netc / Keras: **{median['netc'] / median['keras']:.3f}** on medians, "
        f"{wall['netc'][0] / wall['keras'][0]:.3f} on minima; CPU-time ratio {cpu['netc'] / cpu['keras']:.3f} "
        "(target <= 1.05).",
        "",
        f"Run-to-run spread of one program (max/min - 1): Keras {wall['keras'][-1] / wall['keras'][0] - 1:.0%}, "
        f"netc {wall['netc'][-1] / wall['netc'][0] - 1:.0%}; where it is larger than the difference (a shared "
        "machine), the CPU time of each process is the steadier comparison. Same seed, same operations: the test "
        "accuracies are expected to match run for run.",
    ])
    print(body)
    write_section(f"netc train vs hand-written Keras (MNIST-1D, {args.epochs} epochs)", body)


if __name__ == "__main__":
    main()
