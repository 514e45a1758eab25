"""Tree members of an ensemble: catalog name -> estimator, trained on flattened inputs, saved safely.

``GradientBoosting`` is scikit-learn's HistGradientBoostingClassifier (or
Regressor), ``RandomForest`` its RandomForestClassifier (or Regressor);
``LightGBM`` and ``XGBoost`` need their packages (the ``trees`` extra).

Saving never runs code on load: scikit-learn trees go through skops
(``skops.io``), loaded with an explicit list of trusted types that is checked
against netc's allow-list first; LightGBM and XGBoost models are saved in
their own text and JSON formats. Classes are imported by name, statically,
never from a string of the spec.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from netc.catalog import training as cat

SKOPS_FILE = "model.skops"

# The only non-default types a saved scikit-learn tree may hold (skops trusts numpy and core sklearn itself).
ALLOWED_TYPES = frozenset({
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
})


class UnsafeModelError(Exception):
    """A saved tree holds a type outside netc's allow-list: it is not loaded."""


def available(name: str) -> bool:
    """Whether the package behind a tree member is installed."""
    try:
        if name == "LightGBM":
            import lightgbm  # noqa: F401
        elif name == "XGBoost":
            import xgboost  # noqa: F401
        else:
            import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def package(name: str) -> str:
    """The package a tree member needs."""
    return {"LightGBM": "lightgbm", "XGBoost": "xgboost"}.get(name, "scikit-learn")


def make_tree(name: str, kwargs: dict[str, Any], classify: bool, seed: int | None):
    """An unfitted estimator for catalog tree ``name`` with the spec's arguments."""
    if name not in cat.TREES:
        raise ValueError(f"unknown tree member {name!r}")
    kwargs = dict(kwargs)
    if kwargs.get("random_state") is None and seed is not None:
        kwargs["random_state"] = seed
    try:
        if name == "GradientBoosting":
            from sklearn.ensemble import (
                HistGradientBoostingClassifier,
                HistGradientBoostingRegressor,
            )

            return (HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor)(**kwargs)
        if name == "RandomForest":
            from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

            return (RandomForestClassifier if classify else RandomForestRegressor)(**kwargs)
        if name == "LightGBM":
            from lightgbm import LGBMClassifier, LGBMRegressor

            return (LGBMClassifier if classify else LGBMRegressor)(verbose=-1, **kwargs)
        from xgboost import XGBClassifier, XGBRegressor

        return (XGBClassifier if classify else XGBRegressor)(**kwargs)
    except ImportError:
        raise ImportError(
            f"ensemble member {name} needs {package(name)}: pip install -e \".[trees]\""
            + (f" {package(name)}" if name in ("LightGBM", "XGBoost") else "")) from None


def flat(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).reshape(len(x), -1)


def _threads():
    """Half the cores for the trees' OpenMP pools: with Keras's threads beside them, more only spin and wait."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(max(1, (os.cpu_count() or 2) // 2))


def fit_tree(estimator, x: np.ndarray, y: np.ndarray):
    with _threads():
        estimator.fit(flat(x), y)
    return estimator


def tree_predict(estimator, x: np.ndarray, classify: bool, num_classes: int | None) -> np.ndarray:
    """Class probabilities over every class (columns the tree never saw are 0), or predicted values."""
    x = flat(x)
    with _threads():
        raw = estimator.predict_proba(x) if classify else estimator.predict(x)
    if not classify:
        return np.asarray(raw, dtype=np.float64).reshape(len(x), -1)
    proba = np.asarray(raw, dtype=np.float64)
    classes = np.asarray(estimator.classes_).astype(np.int64)
    width = max(num_classes or 0, int(classes.max()) + 1)
    out = np.zeros((len(x), width))
    out[:, classes] = proba
    return out


# ---- saving and loading ----------------------------------------------------------

def save_tree(name: str, estimator, folder: Path) -> str:
    """Write the fitted tree into ``folder``; returns the file name."""
    folder = Path(folder)
    if name == "LightGBM":
        estimator.booster_.save_model(str(folder / "model.lgbm.txt"))
        _write_classes(folder, estimator)
        return "model.lgbm.txt"
    if name == "XGBoost":
        estimator.save_model(str(folder / "model.xgb.json"))
        _write_classes(folder, estimator)
        return "model.xgb.json"
    import skops.io as sio

    sio.dump(estimator, str(folder / SKOPS_FILE))
    return SKOPS_FILE


def _write_classes(folder: Path, estimator) -> None:
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        np.save(folder / "classes.npy", np.asarray(classes).astype(np.int64), allow_pickle=False)


def load_tree(name: str, folder: Path, classify: bool):
    """A saved tree, loaded without running code from the file; raises UnsafeModelError on a foreign type."""
    folder = Path(folder)
    if name == "LightGBM":
        import lightgbm

        return _Native(lightgbm.Booster(model_file=str(folder / "model.lgbm.txt")), folder, classify, "lightgbm")
    if name == "XGBoost":
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(folder / "model.xgb.json"))
        return _Native(booster, folder, classify, "xgboost")
    import skops.io as sio

    path = folder / SKOPS_FILE
    untrusted = sio.get_untrusted_types(file=str(path))
    foreign = sorted(set(untrusted) - ALLOWED_TYPES)
    if foreign:
        raise UnsafeModelError(f"{path} holds types netc does not load: {', '.join(foreign)}")
    return sio.load(str(path), trusted=list(untrusted))


class _Native:
    """A LightGBM or XGBoost booster loaded from its own format, with the estimator's predict interface."""

    def __init__(self, booster, folder: Path, classify: bool, kind: str):
        self.booster, self.kind, self.classify = booster, kind, classify
        classes = folder / "classes.npy"
        self.classes_ = np.load(classes, allow_pickle=False) if classes.exists() else None

    def _raw(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "xgboost":
            import xgboost

            return np.asarray(self.booster.predict(xgboost.DMatrix(x)))
        return np.asarray(self.booster.predict(x))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        raw = self._raw(x)
        return np.stack([1.0 - raw, raw], axis=1) if raw.ndim == 1 else raw

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._raw(x)
