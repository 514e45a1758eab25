"""What netc knows of everything a train, search or ensemble directive can name.

Loaders, optimizers, callbacks, search distributions and tree members resolve
only against these tables, like layers against ``LAYERS``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from netc.catalog.spec import Arg, CallSpec
from netc.catalog.types import BOOL, FLOAT, INT, STR, Choice, TupleOf, Union, optional, ANY, ListOf

NUMBER = FLOAT
POSITIVE_INT = INT


def _table(*specs: CallSpec) -> dict[str, CallSpec]:
    return {s.name: s for s in specs}


LOADERS = _table(
    CallSpec("mnist1d", "loader", (
        Arg("split", Choice(("train", "test")), "train", "Which part of MNIST-1D: 'train' (4,000) or 'test' (1,000)."),
        Arg("seed", optional(INT), None, "Generate a fresh data set with this seed instead of the standard one."),
        Arg("num_samples", optional(INT), None, "How many samples to generate (with a seed)."),
    ), "MNIST-1D, generated locally with no network: 40-step signals of 10 classes."),
    CallSpec("digits", "loader", (
        Arg("split", Choice(("train", "test", "all")), "train", "scikit-learn's digits split 80/20 with a fixed seed."),
        Arg("as_images", BOOL, False, "8x8x1 images instead of 64 features."),
    ), "scikit-learn's bundled 8x8 handwritten digits, pixel values scaled to [0, 1]."),
    CallSpec("npz", "loader", (
        Arg("path", STR, doc="A .npz file, relative to the spec."),
        Arg("x", STR, "x", "The array of inputs."),
        Arg("y", STR, "y", "The array of targets."),
    ), "Arrays from a NumPy .npz file (loaded with allow_pickle=False)."),
    CallSpec("csv", "loader", (
        Arg("path", STR, doc="A .csv file, relative to the spec."),
        Arg("target", STR, doc="The column to predict."),
        Arg("features", optional(ListOf(STR)), None, "The input columns (default: all others)."),
    ), "A table from a CSV file with a header row."),
    CallSpec("images", "loader", (
        Arg("directory", STR, doc="One subfolder per class, relative to the spec."),
        Arg("image_size", TupleOf(INT, 2), (256, 256)),
        Arg("color_mode", Choice(("grayscale", "rgb", "rgba")), "rgb"),
        Arg("validation_split", optional(FLOAT), None),
        Arg("subset", optional(Choice(("training", "validation", "both"))), None),
        Arg("seed", optional(INT), None),
    ), "Images from a folder per class, through keras.utils.image_dataset_from_directory."),
)



@dataclass(frozen=True)
class DataShape:
    """What a loader promises about its samples from its arguments alone.

    ``x`` is the shape of one input sample (batch excluded); ``num_classes``
    the number of label classes. None means: known only once the data is
    loaded, so the fit is checked at load time instead of statically.
    """

    x: tuple | None
    num_classes: int | None


_CHANNELS_OF_COLOR_MODE = {"grayscale": 1, "rgb": 3, "rgba": 4}

# loader name -> its promise, from the loader's arguments bound by name with defaults filled.
LOADER_SHAPES: dict[str, Callable[[dict], DataShape]] = {
    "mnist1d": lambda args: DataShape((40,), 10),
    "digits": lambda args: DataShape((8, 8, 1) if args["as_images"] else (64,), 10),
    "npz": lambda args: DataShape(None, None),
    "csv": lambda args: DataShape((len(args["features"]),) if args["features"] else None, None),
    "images": lambda args: DataShape(tuple(args["image_size"]) + (_CHANNELS_OF_COLOR_MODE[args["color_mode"]],),
                                     None),
}

_LR = Arg("learning_rate", FLOAT, 0.001, "The step size.")
_COMMON_OPT = (
    Arg("weight_decay", optional(FLOAT), None),
    Arg("clipnorm", optional(FLOAT), None),
    Arg("clipvalue", optional(FLOAT), None),
    Arg("global_clipnorm", optional(FLOAT), None),
)
OPTIMIZERS = _table(
    CallSpec("SGD", "optimizer", (Arg("learning_rate", FLOAT, 0.01), Arg("momentum", FLOAT, 0.0),
                                  Arg("nesterov", BOOL, False)) + _COMMON_OPT, "Stochastic gradient descent."),
    CallSpec("Adam", "optimizer", (_LR, Arg("beta_1", FLOAT, 0.9), Arg("beta_2", FLOAT, 0.999),
                                   Arg("epsilon", FLOAT, 1e-07), Arg("amsgrad", BOOL, False)) + _COMMON_OPT,
             "Adam: adaptive moment estimation."),
    CallSpec("AdamW", "optimizer", (_LR, Arg("weight_decay", FLOAT, 0.004), Arg("beta_1", FLOAT, 0.9),
                                    Arg("beta_2", FLOAT, 0.999), Arg("epsilon", FLOAT, 1e-07),
                                    Arg("amsgrad", BOOL, False)) + _COMMON_OPT[1:], "Adam with decoupled weight decay."),
    CallSpec("RMSprop", "optimizer", (_LR, Arg("rho", FLOAT, 0.9), Arg("momentum", FLOAT, 0.0),
                                      Arg("epsilon", FLOAT, 1e-07), Arg("centered", BOOL, False)) + _COMMON_OPT,
             "RMSprop: divides the gradient by a running average of its magnitude."),
    CallSpec("Adagrad", "optimizer", (_LR, Arg("initial_accumulator_value", FLOAT, 0.1),
                                      Arg("epsilon", FLOAT, 1e-07)) + _COMMON_OPT, "Adagrad."),
    CallSpec("Adadelta", "optimizer", (_LR, Arg("rho", FLOAT, 0.95), Arg("epsilon", FLOAT, 1e-07)) + _COMMON_OPT,
             "Adadelta."),
    CallSpec("Adamax", "optimizer", (_LR, Arg("beta_1", FLOAT, 0.9), Arg("beta_2", FLOAT, 0.999),
                                     Arg("epsilon", FLOAT, 1e-07)) + _COMMON_OPT, "Adamax."),
    CallSpec("Nadam", "optimizer", (_LR, Arg("beta_1", FLOAT, 0.9), Arg("beta_2", FLOAT, 0.999),
                                    Arg("epsilon", FLOAT, 1e-07)) + _COMMON_OPT, "Adam with Nesterov momentum."),
    CallSpec("Lion", "optimizer", (Arg("learning_rate", FLOAT, 0.001), Arg("beta_1", FLOAT, 0.9),
                                   Arg("beta_2", FLOAT, 0.99)) + _COMMON_OPT, "Lion."),
)

_MONITOR = Arg("monitor", STR, "val_loss")
_MODE = Arg("mode", Choice(("auto", "min", "max")), "auto")
CALLBACKS = _table(
    CallSpec("EarlyStopping", "callback", (
        _MONITOR, Arg("min_delta", FLOAT, 0), Arg("patience", INT, 0), Arg("verbose", INT, 0), _MODE,
        Arg("baseline", optional(FLOAT), None), Arg("restore_best_weights", BOOL, False),
        Arg("start_from_epoch", INT, 0)), "Stop training when a monitored metric has stopped improving."),
    CallSpec("ReduceLROnPlateau", "callback", (
        _MONITOR, Arg("factor", FLOAT, 0.1), Arg("patience", INT, 10), Arg("verbose", INT, 0), _MODE,
        Arg("min_delta", FLOAT, 0.0001), Arg("cooldown", INT, 0), Arg("min_lr", FLOAT, 0.0)),
             "Reduce the learning rate when a metric has stopped improving."),
    CallSpec("TerminateOnNaN", "callback", (), "Stop training when the loss becomes NaN."),
)

DISTRIBUTIONS = _table(
    CallSpec("choice", "distribution", (), "One of the listed values: choice(32, 64, 128)."),
    CallSpec("int", "distribution", (Arg("low", INT), Arg("high", INT), Arg("step", INT, 1), Arg("log", BOOL, False)),
             "An integer from low to high, both included."),
    CallSpec("uniform", "distribution", (Arg("low", FLOAT), Arg("high", FLOAT), Arg("step", optional(FLOAT), None),
                                         Arg("log", BOOL, False)), "A float from low to high."),
    CallSpec("loguniform", "distribution", (Arg("low", FLOAT), Arg("high", FLOAT)),
             "A float from low to high, uniform in log space."),
)

_TREE_COMMON = (Arg("random_state", optional(INT), None),)
TREES = _table(
    CallSpec("GradientBoosting", "tree", (
        Arg("learning_rate", FLOAT, 0.1), Arg("max_iter", INT, 100), Arg("max_leaf_nodes", optional(INT), 31),
        Arg("max_depth", optional(INT), None), Arg("min_samples_leaf", INT, 20), Arg("l2_regularization", FLOAT, 0.0),
        Arg("early_stopping", Union((Choice(("auto",)), BOOL)), "auto")) + _TREE_COMMON,
             "scikit-learn's HistGradientBoostingClassifier (or Regressor)."),
    CallSpec("RandomForest", "tree", (
        Arg("n_estimators", INT, 100), Arg("max_depth", optional(INT), None), Arg("min_samples_leaf", INT, 1),
        Arg("max_features", Union((Choice(("sqrt", "log2")), FLOAT, INT, optional(ANY))), "sqrt")) + _TREE_COMMON,
             "scikit-learn's RandomForestClassifier (or Regressor)."),
    CallSpec("LightGBM", "tree", (Arg("n_estimators", INT, 100), Arg("learning_rate", FLOAT, 0.1),
                                  Arg("num_leaves", INT, 31)) + _TREE_COMMON, "LightGBM's LGBMClassifier (extra: trees)."),
    CallSpec("XGBoost", "tree", (Arg("n_estimators", INT, 100), Arg("learning_rate", optional(FLOAT), None),
                                 Arg("max_depth", optional(INT), None)) + _TREE_COMMON,
             "XGBoost's XGBClassifier (extra: trees)."),
)

SEARCH_STRATEGIES = ("random", "tpe", "grid", "cmaes", "qmc")
PRUNERS = ("none", "median", "hyperband")
ENSEMBLE_WEIGHTS = ("uniform", "nelder_mead", "caruana")
DIRECTIONS = ("maximize", "minimize")
# Losses whose targets are class indices (one integer per sample), and those that take one-hot targets:
# integer labels are one-hot encoded for them at load time.
SPARSE_CLASS_LOSSES = ("sparse_categorical_crossentropy",)
ONE_HOT_CLASS_LOSSES = ("categorical_crossentropy", "categorical_hinge")
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mse",
          "mean_squared_error", "mae", "mean_absolute_error", "huber", "kl_divergence", "poisson",
          "categorical_hinge", "hinge", "squared_hinge", "log_cosh", "mean_absolute_percentage_error",
          "mean_squared_logarithmic_error", "cosine_similarity")
METRICS = ("accuracy", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mse", "mae", "auc", "AUC",
           "precision", "recall", "mean_squared_error", "mean_absolute_error", "crossentropy")

TRAIN_SETTINGS = ("data", "test_data", "validation_data", "optimizer", "loss", "metrics", "epochs", "batch_size",
                  "validation_split", "callbacks", "seed", "loss_weights", "shuffle", "class_weight",
                  "steps_per_epoch")
SEARCH_SETTINGS = ("strategy", "trials", "objective", "prune", "timeout", "seed", "workers", "max_failures")
ENSEMBLE_SETTINGS = ("members", "weights", "objective", "iterations", "seed", "folds", "holdout")
