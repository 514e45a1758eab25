"""netc's reference architectures against keras.applications, measured in the same run.

- compile time: parse + check + build of the spec against building keras.applications.X (target ratio <= 1.15);
- training-step time of the compiled model against keras.applications.X, same batch and backend
  (target ratio <= 1.02).

Run: python bench/applications.py [--size 96] [--batch 8] [--steps 30] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = {  # spec file, keras.applications name, smallest size keras accepts
    "ResNet50": ("resnet50.net", "ResNet50", 32),
    "InceptionV3": ("inception_v3.net", "InceptionV3", 75),
    "Xception": ("xception.net", "Xception", 71),
    "MobileNetV2": ("mobilenet_v2.net", "MobileNetV2", 32),
}


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def compile_times(name: str, size: int, repeats: int):
    import keras
    import netc

    spec, app, _ = MODELS[name]
    path = ROOT / "specs" / "applications" / spec
    builds = {"netc": lambda: netc.compile_file(path, size=size, classes=10),
              "keras": lambda: getattr(keras.applications, app)(weights=None, input_shape=(size, size, 3), classes=10)}
    seconds: dict[str, list[float]] = {"netc": [], "keras": []}
    for repeat in range(repeats):  # interleaved, each first half of the time: drift in load hits both alike
        for which in (("netc", "keras") if repeat % 2 == 0 else ("keras", "netc")):
            keras.backend.clear_session()
            seconds[which].append(timed(builds[which])[0])
    return min(seconds["netc"]), min(seconds["keras"])  # the same work each time: the least disturbed build is the measure


def step_times(name: str, size: int, batch: int, steps: int):
    import keras
    import numpy as np
    import netc

    spec, app, _ = MODELS[name]
    keras.backend.clear_session()
    ours = netc.compile_file(ROOT / "specs" / "applications" / spec, size=size, classes=10)
    theirs = getattr(keras.applications, app)(weights=None, input_shape=(size, size, 3), classes=10)
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, size, size, 3)).astype("float32")
    y = rng.integers(0, 10, size=(batch,))
    for model in (ours, theirs):
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
        model.train_on_batch(x, y)  # trace / compile the step
        model.train_on_batch(x, y)
    times = {id(ours): [], id(theirs): []}
    for step in range(steps):  # interleaved, and each goes first half of the time
        for model in ((ours, theirs) if step % 2 == 0 else (theirs, ours)):
            times[id(model)].append(timed(lambda: model.train_on_batch(x, y))[0])
    return statistics.median(times[id(ours)]), statistics.median(times[id(theirs)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    import keras

    keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)  # warm imports
    rows = []
    for name in args.models:
        size = max(args.size, MODELS[name][2])
        netc_c, keras_c = compile_times(name, size, args.repeats)
        netc_t, keras_t = step_times(name, size, args.batch, args.steps)
        rows.append((name, size, netc_c, keras_c, netc_t, keras_t))
        print(rows[-1], flush=True)
    body = [f"Backend: {keras.backend.backend()} on the CPU. Input {args.size}x{args.size}x3 (or the smallest Keras "
            f"allows), 10 classes, batch {args.batch}. Compile: the fastest of {args.repeats} builds each; step: "
            f"the median of {args.steps} training steps each; interleaved, each model first half of the time.", "",
            "| model | size | netc compile s | keras build s | ratio (<= 1.15) | netc step ms | keras step ms "
            "| ratio (<= 1.02) |", "|---|---|---|---|---|---|---|---|"]
    for name, size, nc, kc, nt, kt in rows:
        body.append(f"| {name} | {size} | {nc:.2f} | {kc:.2f} | **{nc / kc:.2f}** | {nt * 1000:.0f} | "
                    f"{kt * 1000:.0f} | **{nt / kt:.2f}** |")
    write_section(f"Reference architectures vs keras.applications ({keras.backend.backend()}, issue 3)",
                  "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
