"""The catalog's loaders: a loader call -> numpy arrays, or a DataError that names the file and the problem.

Each loader reads only what its call names (paths relative to the spec's
folder), never runs code from the data (``.npz`` files load with
``allow_pickle=False``; MNIST-1D is generated locally, never downloaded), and
says what it knows of the labels (``num_classes``) so fitting the model is
checked before training starts.
"""
from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from netc import diagnostics as dg
from netc.runtime.plan import LoaderCall

NPZ_MAGIC = b"PK\x03\x04"  # an .npz file is a zip archive


@dataclass
class Arrays:
    """One loaded data set: inputs, labels, and how to name its origin in messages."""

    x: np.ndarray
    y: np.ndarray
    source: str                        # "'data/train.npz'" or "mnist1d()": what messages name
    num_classes: int | None = None     # known from the loader (class folders, built-in sets), else None
    lines: list[int] | None = None     # a CSV's line number of each sample, for messages

    def where(self, sample: int) -> str:
        """A sample's position for messages: 'line 19' in a CSV, else 'sample 17'."""
        return f"line {self.lines[sample]}" if self.lines else f"sample {sample}"


def load(call: LoaderCall) -> Arrays:
    """The arrays of one loader call of the catalog."""
    return _LOADERS[call.name](call)


def display_path(path: Path) -> str:
    """A data path as short as it can be said: relative to the working folder when inside it."""
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _existing_file(call: LoaderCall, raw: str, what: str) -> Path:
    path = call.path(raw)
    if not path.exists():
        raise call.error("NC403", f"data file '{display_path(path)}' does not exist",
                         f"{what} paths are relative to the spec's folder ({display_path(call.base_dir)})")
    if not path.is_file():
        raise call.error("NC403", f"'{display_path(path)}' is not a file", f"{call.name}() reads one {what} file")
    return path


# ---- built-in data sets ----------------------------------------------------

def _mnist1d(call: LoaderCall) -> Arrays:
    seed = 42 if call.args["seed"] is None else call.args["seed"]
    num_samples = 5000 if call.args["num_samples"] is None else call.args["num_samples"]
    if num_samples < 10:
        raise call.error("NC406", f"{call.text} gives no samples: num_samples={num_samples} is below one per class",
                         "use num_samples of 10 or more (MNIST-1D has 10 classes)")
    try:
        data = _mnist1d_arrays(seed, num_samples)
    except ImportError:
        raise call.error("NC403", "the mnist1d package is not installed", "pip install mnist1d") from None
    test = call.args["split"] == "test"
    return Arrays(data["x_test" if test else "x"], data["y_test" if test else "y"], call.text, 10)


@lru_cache(maxsize=4)
def _mnist1d_arrays(seed: int, num_samples: int) -> dict[str, np.ndarray]:
    """MNIST-1D, generated once per machine and kept in netc's cache folder.

    Generating takes about two seconds (the package's import included), and a
    search or an ensemble loads the same data in every trial's process.
    """
    path = _cache_dir() / f"mnist1d-{_package_version('mnist1d')}-seed{seed}-n{num_samples}.npz"
    arrays = _load_cached(path, ("x", "x_test", "y", "y_test"))
    if arrays is None:
        arrays = _generate_mnist1d(seed, num_samples)
        _store_cached(path, arrays)
    for array in arrays.values():
        array.setflags(write=False)  # shared by every call through the cache
    return arrays


def _generate_mnist1d(seed: int, num_samples: int) -> dict[str, np.ndarray]:
    """MNIST-1D generated locally (make_dataset): train and test splits come from one generation.

    ``make_dataset`` reseeds numpy's and Python's global generators; their states
    are restored so loading data does not change the randomness of anything else.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed, args.num_samples = seed, num_samples
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    arrays = {k: np.asarray(data[k], dtype=np.float32) for k in ("x", "x_test")}
    arrays.update({k: np.asarray(data[k], dtype=np.int32) for k in ("y", "y_test")})
    return arrays


def _cache_dir() -> Path:
    """``NETC_CACHE_DIR``, else ``$XDG_CACHE_HOME/netc``, else ``~/.cache/netc``."""
    explicit = os.environ.get("NETC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "netc"


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        raise ImportError(name) from None


def _load_cached(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file, or None when it is missing or unreadable (then the data is made again)."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {k: np.array(stored[k]) for k in keys}
    except (OSError, KeyError, ValueError, EOFError):
        return None


def _store_cached(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (a process that reads it sees all of it or none); a cache that cannot be written is
    skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        with open(partial, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(partial, path)
    except OSError:
        pass


def _digits(call: LoaderCall) -> Arrays:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise call.error("NC403", "scikit-learn is not installed", "pip install scikit-learn") from None
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    x = x[..., None] if call.args["as_images"] else x.reshape(len(x), -1)
    y = bunch.target.astype(np.int32)
    order = np.random.RandomState(0).permutation(len(x))  # a fixed 80/20 split
    cut = int(0.8 * len(x))
    chosen = {"train": order[:cut], "test": order[cut:], "all": order}[call.args["split"]]
    return Arrays(x[chosen], y[chosen], call.text, 10)


# ---- files -------------------------------------------------------------------

def _npz(call: LoaderCall) -> Arrays:
    path = _existing_file(call, call.args["path"], ".npz")
    shown = display_path(path)
    with open(path, "rb") as f:
        if f.read(4) != NPZ_MAGIC:
            raise call.error("NC403", f"'{shown}' is not a .npz archive", "write it with numpy.savez(path, x=..., y=...)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.files)
            x = _npz_array(call, archive, call.args["x"], keys, shown)
            y = _npz_array(call, archive, call.args["y"], keys, shown)
    except (OSError, EOFError) as e:
        raise call.error("NC403", f"cannot read '{shown}': {e}", "the file may be truncated; write it again") from None
    return Arrays(x, y, f"'{shown}'")


def _npz_array(call: LoaderCall, archive, key: str, keys: list[str], shown: str) -> np.ndarray:
    if key not in keys:
        guess = dg.did_you_mean(key, keys)
        raise call.error("NC404", f"'{shown}' has no array '{key}'" + (f"; did you mean '{guess}'?" if guess else ""),
                         "its arrays: " + (", ".join(keys) or "none"))
    try:
        return archive[key]
    except ValueError:
        raise call.error("NC406", f"array '{key}' of '{shown}' holds Python objects, which netc does not load",
                         "save numeric arrays (numbers, not objects or ragged lists)") from None


def _csv(call: LoaderCall) -> Arrays:
    path = _existing_file(call, call.args["path"], ".csv")
    shown = display_path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [(i, row) for i, row in enumerate(csv.reader(f), start=1) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise call.error("NC403", f"cannot read '{shown}': {e}", "netc reads UTF-8 CSV files with a header row") from None
    if not rows:
        raise call.error("NC406", f"'{shown}' is empty", "the first row names the columns")
    header = [h.strip() for h in rows[0][1]]
    target = _column(call, header, call.args["target"], shown)
    names = call.args["features"] or [h for h in header if h != call.args["target"]]
    features = [_column(call, header, name, shown) for name in names]
    body = rows[1:]
    if not body:
        raise call.error("NC406", f"'{shown}' has a header but no rows", "add one row per sample")
    for line, row in body:
        if len(row) != len(header):
            raise call.error("NC406", f"line {line} of '{shown}' has {len(row)} fields but the header has "
                                      f"{len(header)}", "every row needs one value per column")
    x = np.array([[_number(call, row[c], line, header[c], shown) for c in features] for line, row in body],
                 dtype=np.float32).reshape(len(body), len(features))
    return Arrays(x, _labels([row[target].strip() for _, row in body]), f"'{shown}'", lines=[l for l, _ in body])


def _column(call: LoaderCall, header: list[str], name: str, shown: str) -> int:
    if name not in header:
        guess = dg.did_you_mean(name, header)
        raise call.error("NC404", f"'{shown}' has no column '{name}'" + (f"; did you mean '{guess}'?" if guess else ""),
                         "its columns: " + ", ".join(header))
    return header.index(name)


def _number(call: LoaderCall, cell: str, line: int, column: str, shown: str) -> float:
    cell = cell.strip()
    if cell == "":
        return float("nan")  # reported as a missing value with the NaN check
    try:
        return float(cell)
    except ValueError:
        raise call.error("NC406", f"line {line} of '{shown}', column '{column}': '{cell}' is not a number",
                         "feature columns must be numeric; leave them out with features=[...]") from None


def _labels(cells: list[str]) -> np.ndarray:
    """Numeric targets as numbers (integers when all are whole); text targets as class indices in sorted order."""
    try:
        values = np.array([float(c) if c else float("nan") for c in cells], dtype=np.float64)
    except ValueError:
        classes = sorted(set(cells))
        index = {c: i for i, c in enumerate(classes)}
        return np.array([index[c] for c in cells], dtype=np.int32)
    if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values.astype(np.float32)


def _images(call: LoaderCall) -> Arrays:
    directory = call.path(call.args["directory"])
    shown = display_path(directory)
    if not directory.is_dir():
        raise call.error("NC403", f"image folder '{shown}' does not exist",
                         f"paths are relative to the spec's folder ({display_path(call.base_dir)}); it holds one "
                         "subfolder per class")
    if call.args["subset"] == "both":
        raise call.error("NC204", "subset=\"both\" gives two data sets, but a setting takes one",
                         "use subset=\"training\" for data and subset=\"validation\" for validation_data")
    import keras

    try:
        dataset = keras.utils.image_dataset_from_directory(
            str(directory), labels="inferred", label_mode="int", color_mode=call.args["color_mode"],
            image_size=tuple(call.args["image_size"]), batch_size=64, shuffle=True,
            seed=0 if call.args["seed"] is None else call.args["seed"],
            validation_split=call.args["validation_split"], subset=call.args["subset"])
    except ValueError as e:
        raise call.error("NC406", f"cannot load images from '{shown}': {e}",
                         "the folder holds one subfolder of images per class") from None
    xs, ys = [], []
    for images, labels in dataset:
        xs.append(np.asarray(images, dtype=np.float32))
        ys.append(np.asarray(labels, dtype=np.int32))
    if not xs:
        raise call.error("NC406", f"'{shown}' holds no images", "put images in one subfolder per class")
    return Arrays(np.concatenate(xs), np.concatenate(ys), f"'{shown}'", len(dataset.class_names))


_LOADERS: dict[str, Callable[[LoaderCall], Arrays]] = {
    "mnist1d": _mnist1d, "digits": _digits, "npz": _npz, "csv": _csv, "images": _images,
}
