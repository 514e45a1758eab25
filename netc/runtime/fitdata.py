"""Loaded arrays -> what the model takes, checked before training starts.

The same rules as the static check (``netc.compiler.datafit``), now on the
real arrays: numeric inputs, no NaN, as many labels as samples, samples that
fit the model's input (adding the trailing channel axis of size 1 when the
input asks for it), labels inside the output layer's classes (one-hot encoded
for a one-hot loss). Every failure is a DataError at the loader call.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from netc.catalog import training as cat
from netc.compiler.datafit import (ADD_CHANNEL, class_hint, class_problem, fit_rule, input_hint, input_problem,
                                   output_units, sample_shape_text)
from netc.runtime.loaders import Arrays
from netc.runtime.plan import LoaderCall


def prepare(arrays: Arrays, call: LoaderCall, ir: dict, loss: Any) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) ready for ``model.fit``; raises DataError naming the data and the problem."""
    x, y = arrays.x, arrays.y
    _check_arrays(arrays, call)
    x = _fit_input(arrays, call, ir, x)
    y = _fit_labels(arrays, call, ir, loss, y)
    return x, y


def _check_arrays(arrays: Arrays, call: LoaderCall) -> None:
    x, y, source = arrays.x, arrays.y, arrays.source
    for name, array in (("inputs", x), ("labels", y)):
        if array.dtype.kind not in "biuf":
            raise call.error("NC406", f"the {name} of {source} are not numeric (dtype {array.dtype})",
                             "netc trains on numeric arrays")
        if array.ndim == 0:
            raise call.error("NC406", f"the {name} of {source} are a single value, not one per sample",
                             "the first axis counts the samples")
    if len(x) == 0:
        raise call.error("NC406", f"{source} gives no samples", "check the file or the loader's arguments")
    if len(x) != len(y):
        raise call.error("NC406", f"{source} gives {len(x)} input samples but {len(y)} labels",
                         "inputs and labels need one row per sample, in the same order")
    for name, array in (("inputs", x), ("labels", y)):
        if array.dtype.kind == "f":
            bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
            if bad.any():
                first = int(np.argmax(bad))
                what = "NaN" if np.isnan(array[first]).any() else "an infinite value"
                more = int(bad.sum()) - 1
                raise call.error("NC405", f"the {name} of {source} hold {what} at {arrays.where(first)}"
                                          + (f" (and {more} more sample{'s' * (more != 1)})" if more else ""),
                                 "fill or drop the missing values before training")


def _fit_input(arrays: Arrays, call: LoaderCall, ir: dict, x: np.ndarray) -> np.ndarray:
    inputs = ir["inputs"]
    if len(inputs) != 1:
        raise call.error("NC401", f"model {ir['model']} has {len(inputs)} inputs, but {arrays.source} gives one "
                                  "input array", "netc train feeds models with one input")
    spec = inputs[0]
    shape = tuple(spec["shape"])
    rule = fit_rule(shape, x.shape[1:])
    if rule is None:
        raise call.error("NC401", input_problem(ir["model"], spec["name"], shape, arrays.source, x.shape[1:]),
                         input_hint(spec["name"], x.shape[1:]))
    x = x.astype(np.float32, copy=False)
    return x[..., None] if rule == ADD_CHANNEL else x


def _fit_labels(arrays: Arrays, call: LoaderCall, ir: dict, loss: Any, y: np.ndarray) -> np.ndarray:
    outputs = ir["outputs"]
    units = output_units(loss, tuple(outputs[0]["shape"])) if len(outputs) == 1 else None
    if units is None:
        return y.astype(np.float32, copy=False)
    if loss in cat.ONE_HOT_CLASS_LOSSES and y.ndim == 2 and y.shape[1] == units:
        return y.astype(np.float32, copy=False)  # already one-hot
    if arrays.num_classes is not None and arrays.num_classes > units:
        raise call.error("NC402", class_problem(ir["model"], units, arrays.source, arrays.num_classes),
                         class_hint(arrays.num_classes))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise call.error("NC406", f"the labels of {arrays.source} have shape {sample_shape_text(y.shape[1:])} per "
                                  f"sample, but {loss} takes one class index per sample",
                         "give one integer label per sample")
    whole = np.round(y) == y
    if not whole.all():
        first = int(np.argmin(whole))
        raise call.error("NC406", f"the labels of {arrays.source} are class indices for {loss}, but "
                                  f"{arrays.where(first)} has {y[first]:g}", "give one integer label per sample")
    return _in_range(arrays, call, y.astype(np.int64), units, loss)


def _in_range(arrays: Arrays, call: LoaderCall, y: np.ndarray, units: int, loss: str) -> np.ndarray:
    bad = (y < 0) | (y >= units)
    if bad.any():
        first = int(np.argmax(bad))
        top = int(y.max())
        hint = f"labels must be 0 to {units - 1}"
        if top >= units:
            hint += f"; for {top + 1} classes end the model with Dense({top + 1}, activation=\"softmax\")"
        raise call.error("NC402", f"label {int(y[first])} ({arrays.where(first)} of {arrays.source}) is out of range "
                                  f"for the output layer ({units} unit{'s' * (units != 1)})", hint)
    if loss in cat.ONE_HOT_CLASS_LOSSES:
        return np.eye(units, dtype=np.float32)[y]
    return y.astype(np.int32)


def class_weights(setting: Any, y: np.ndarray) -> dict[int, float] | None:
    """Keras's class_weight from the spec's value: "balanced" (inverse class frequency) or one weight per class."""
    if setting is None:
        return None
    if setting == "balanced":
        labels = y.argmax(axis=1) if y.ndim == 2 else y.astype(np.int64)
        classes, counts = np.unique(labels, return_counts=True)
        return {int(c): float(len(labels) / (len(classes) * k)) for c, k in zip(classes, counts)}
    return {i: float(w) for i, w in enumerate(setting)}
