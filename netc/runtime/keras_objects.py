"""TrainPlan -> Keras objects: the optimizer, callbacks, and the arguments of compile and fit.

Classes are found through netc's catalog entries (``cat.OPTIMIZERS[name].name``),
never through a name taken from the spec, like the layer builder. Only the
public ``keras`` namespace is used, so training runs on any Keras backend.
"""
from __future__ import annotations

from typing import Any

from netc.catalog import training as cat
from netc.runtime.plan import CatalogCall, TrainPlan


def optimizer(call: CatalogCall):
    import keras

    return getattr(keras.optimizers, cat.OPTIMIZERS[call.name].name)(**call.kwargs)


def callbacks(calls: list[CatalogCall]) -> list:
    import keras

    return [getattr(keras.callbacks, cat.CALLBACKS[c.name].name)(**c.kwargs) for c in calls]


def compile_args(plan: TrainPlan) -> dict[str, Any]:
    args: dict[str, Any] = {"optimizer": optimizer(plan.optimizer), "loss": plan.loss, "metrics": plan.metrics}
    if plan.loss_weights is not None:
        args["loss_weights"] = plan.loss_weights
    return args


def fit_args(plan: TrainPlan) -> dict[str, Any]:
    """The arguments of ``model.fit`` that come from the train block alone (data and callbacks are added later)."""
    args: dict[str, Any] = {"epochs": plan.epochs, "shuffle": plan.shuffle, "verbose": 0}
    if plan.batch_size is not None:
        args["batch_size"] = plan.batch_size
    if plan.validation_data is None and plan.validation_split:
        args["validation_split"] = plan.validation_split
    if plan.steps_per_epoch is not None:
        args["steps_per_epoch"] = plan.steps_per_epoch
    return args


def restored_epoch(callback_objects: list) -> int | None:
    """The epoch (0-based) whose weights an EarlyStopping(restore_best_weights=true) put back, if it did."""
    import keras

    for callback in callback_objects:
        if (isinstance(callback, keras.callbacks.EarlyStopping) and callback.restore_best_weights
                and callback.best_weights is not None):
            return int(callback.best_epoch)
    return None
