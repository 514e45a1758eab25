"""netc's runtime: training a spec's model on its data (``netc train``).

Only this package trains. Every module imports Keras, matplotlib and the data
packages lazily, inside the functions that need them, so importing
``netc.runtime`` stays cheap and checking a spec never reaches a framework.

    plan.py         spec + parameters -> TrainPlan (plain data, framework-free)
    loaders.py      loader calls -> numpy arrays, with DataError on bad data
    fitdata.py      arrays -> what the model takes (channel axis, labels), checked
    keras_objects   TrainPlan -> optimizer, callbacks, compile and fit arguments
    runfolder.py    the atomic run folder
    resolved.py     spec.net with every parameter bound
    curves.py       learning_curves.png
    progress.py     the per-epoch display (rich) the CLI shows
    train.py        train_file: all of the above, in order
"""
from __future__ import annotations

from netc.runtime.errors import DataError

__all__ = ["DataError", "train_file"]


def train_file(*args, **kwargs):
    """See ``netc.runtime.train.train_file``; imported lazily so this package imports no framework."""
    from netc.runtime.train import train_file as run

    return run(*args, **kwargs)
