"""Ensemble weights and diversity, on plain numpy arrays of member predictions.

Every function takes ``predictions``: one array per member, of class
probabilities (samples x classes) for a classifier or of values for a
regressor, and the true targets (class indices, or values). Nothing here
imports a framework; ``nelder_mead`` imports scipy.

The fitted weights are never worse on the validation data than uniform weights
or the best single member: each method compares its result with both and keeps
the best (``WeightFit.chosen`` says which won).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

LOSS_OBJECTIVES = ("val_loss", "loss")
ACCURACY_OBJECTIVES = ("val_accuracy", "accuracy")
OBJECTIVES = LOSS_OBJECTIVES + ACCURACY_OBJECTIVES
_EPS = 1e-7


@dataclass
class WeightFit:
    """Fitted weights (summing to 1), the objective they reach on validation, and how they were found."""

    weights: np.ndarray
    value: float                  # the objective (lower is better) of the blend on the validation data
    method: str                   # uniform | nelder_mead | caruana
    chosen: str                   # which candidate won: the method's own result, "uniform" or "best_single"
    candidates: dict[str, float] = field(default_factory=dict)  # candidate -> objective on validation
    details: dict = field(default_factory=dict)


def blend(predictions: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    total = weights.sum()
    weights = weights / total if total > 0 else np.full(len(predictions), 1.0 / len(predictions))
    out = np.zeros_like(np.asarray(predictions[0], dtype=np.float64))
    for w, p in zip(weights, predictions):
        if w:
            out += w * np.asarray(p, dtype=np.float64)
    return out


def log_loss(probabilities: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the true classes (class probabilities, class indices)."""
    p = np.clip(probabilities[np.arange(len(y)), y.astype(np.int64)], _EPS, 1.0)
    return float(-np.mean(np.log(p)))


def accuracy(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == y))


def mse(values: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.asarray(values, dtype=np.float64).reshape(len(y), -1)
                          - np.asarray(y, dtype=np.float64).reshape(len(y), -1)) ** 2))


def objective_function(objective: str, classify: bool) -> Callable[[np.ndarray, np.ndarray], float]:
    """prediction, targets -> a number to minimize: log loss (or MSE) for a loss, the error rate for accuracy."""
    if objective in ACCURACY_OBJECTIVES:
        if not classify:
            raise ValueError(f"objective {objective} needs a classifier")
        return lambda p, y: 1.0 - accuracy(p, y)
    return log_loss if classify else mse


def scores(prediction: np.ndarray, y: np.ndarray, classify: bool) -> dict[str, float]:
    """What the table and ensemble.json report for one prediction: loss and accuracy (or MSE)."""
    if classify:
        return {"loss": log_loss(prediction, y), "accuracy": accuracy(prediction, y),
                "error": 1.0 - accuracy(prediction, y)}
    return {"loss": mse(prediction, y)}


# ---- the three methods ----------------------------------------------------------

def fit_weights(method: str, predictions: Sequence[np.ndarray], y: np.ndarray, objective: str, classify: bool,
                iterations: int = 100) -> WeightFit:
    score = objective_function(objective, classify)
    m = len(predictions)
    uniform = np.full(m, 1.0 / m)
    singles = [score(p, y) for p in predictions]
    best = _argmin(singles, [log_loss(p, y) for p in predictions] if _ties(objective, classify) else None)
    best_single = np.eye(m)[best]
    candidates = {"uniform": (uniform, score(blend(predictions, uniform), y)),
                  "best_single": (best_single, singles[best])}
    details: dict = {"best_single": best}
    if method == "nelder_mead":
        weights, details_nm = _nelder_mead(predictions, y, score)
        details.update(details_nm)
        candidates = {"nelder_mead": (weights, score(blend(predictions, weights), y)), **candidates}
    elif method == "caruana":
        weights, details_c = _caruana(predictions, y, score, iterations, log_loss if _ties(objective, classify)
                                      else None)
        details.update(details_c)
        candidates = {"caruana": (weights, score(blend(predictions, weights), y)), **candidates}
    elif method != "uniform":
        raise ValueError(f"unknown weights method {method!r}")
    chosen = min(candidates, key=lambda k: candidates[k][1])  # first wins a tie: the method's own result
    weights, value = candidates[chosen]
    weights = np.asarray(weights, dtype=np.float64)
    return WeightFit(weights / weights.sum(), float(value), method, chosen,
                     {k: float(v) for k, (_, v) in candidates.items()}, details)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z))
    return e / e.sum()


def _nelder_mead(predictions, y, score) -> tuple[np.ndarray, dict]:
    """scipy's Nelder-Mead over softmax-parameterized weights (so they stay on the simplex), from uniform."""
    from scipy.optimize import minimize

    m = len(predictions)
    if m == 1:
        return np.ones(1), {"iterations": 0, "evaluations": 0}
    found = minimize(lambda z: score(blend(predictions, softmax(z)), y), np.zeros(m), method="Nelder-Mead",
                     options={"maxiter": 400 * m, "xatol": 1e-4, "fatol": 1e-7})
    weights = softmax(found.x)
    weights[weights < 1e-6] = 0.0  # softmax never reaches 0: a member it drives out gets none
    return weights / weights.sum(), {"iterations": int(found.nit), "evaluations": int(found.nfev),
                                     "converged": bool(found.success)}


def _ties(objective: str, classify: bool) -> bool:
    """The error rate ties often on a small validation set: log loss breaks its ties."""
    return classify and objective in ACCURACY_OBJECTIVES


def _argmin(values: Sequence[float], tie_break: Sequence[float] | None) -> int:
    keys = [(v, t) for v, t in zip(values, tie_break)] if tie_break is not None else [(v, 0.0) for v in values]
    return min(range(len(keys)), key=lambda i: keys[i])


def _caruana(predictions, y, score, iterations: int, tie_break=None) -> tuple[np.ndarray, dict]:
    """Greedy ensemble selection with replacement (Caruana et al., 2004), keeping the best iteration.

    Each step adds the member that makes the running average best; ties of the
    objective (the error rate on a small validation set) go to the lower log loss.
    """
    m = len(predictions)
    counts = np.zeros(m)
    total = np.zeros_like(np.asarray(predictions[0], dtype=np.float64))
    best_counts, best_key, best_at = None, (np.inf, np.inf), 0
    for step in range(1, iterations + 1):
        blends = [(total + p) / step for p in predictions]
        values = [score(b, y) for b in blends]
        seconds = [tie_break(b, y) for b in blends] if tie_break is not None else None
        pick = _argmin(values, seconds)
        counts[pick] += 1
        total = total + predictions[pick]
        key = (values[pick], seconds[pick] if seconds is not None else 0.0)
        if key[0] < best_key[0] - 1e-12 or (abs(key[0] - best_key[0]) <= 1e-12 and key[1] < best_key[1] - 1e-12):
            best_counts, best_key, best_at = counts.copy(), key, step
    return best_counts / best_counts.sum(), {"iterations": iterations, "best_iteration": best_at,
                                             "counts": [int(c) for c in best_counts]}


# ---- diversity ------------------------------------------------------------------

def diversity(names: Sequence[str], predictions: Sequence[np.ndarray], classify: bool) -> list[dict]:
    """For each pair of members: the correlation of their predictions and how often they disagree.

    correlation: Pearson's r of the two members' outputs (every class probability of
    every sample for a classifier); disagreement: the fraction of samples whose
    predicted classes differ (classifiers only).
    """
    pairs = []
    for i in range(len(predictions)):
        for j in range(i + 1, len(predictions)):
            a = np.asarray(predictions[i], dtype=np.float64).ravel()
            b = np.asarray(predictions[j], dtype=np.float64).ravel()
            r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else None
            pair = {"a": names[i], "b": names[j], "correlation": r}
            if classify:
                pair["disagreement"] = float(np.mean(np.argmax(predictions[i], axis=1)
                                                     != np.argmax(predictions[j], axis=1)))
            pairs.append(pair)
    return pairs
