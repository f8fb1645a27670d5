"""Per-offence decision thresholds chosen on held-out (out-of-fold) probabilities.

Cells whose gold is ``base.UNKNOWN`` (an offence nobody decided) count neither way.

``rule`` says which threshold of the grid is chosen:

- ``best``: the one with the highest F-beta (ties to the one nearest ``default``);
- ``lowest_within_se``: the lowest whose F-beta is within one standard error of the highest
  (the one-standard-error rule, turned towards recall). The standard error is a bootstrap
  over incidents (``clusters``). Held-out F-beta is often flat over a wide range of
  thresholds, and the argmax then sits anywhere on that plateau by chance; on writing unlike
  the training data probabilities run lower, so the lowest statistically equal threshold keeps
  recall where the model generalises worst (docs/evaluation.md, 4 December);
- ``middle_within_se``: the median of the thresholds whose F-beta is within one standard error
  of the highest: the middle of the plateau rather than wherever on it the argmax fell;
- ``calibrated``: the highest F-beta divided by 1 + beta^2 (for F1, half the best F1), the
  threshold that maximises F-beta when the probabilities are calibrated (Lipton, Elkan and
  Naryanaswamy, "Thresholding classifiers to maximize F1 score", 2014). It moves with the best
  score, which is stable, not with where on a flat plateau the argmax fell.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from secondary_crimes.classify.base import known_mask

Rule = Literal["best", "lowest_within_se", "middle_within_se", "calibrated"]
RULES: tuple[str, ...] = get_args(Rule)
GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)


def _f_beta(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, beta: float) -> np.ndarray:
    denominator = (1 + beta**2) * tp + beta**2 * fn + fp
    return np.divide((1 + beta**2) * tp, denominator, out=np.zeros_like(denominator, dtype=float),
                     where=denominator > 0)


def _bootstrap_se(y_true: np.ndarray, predicted: np.ndarray, weight: np.ndarray, clusters: np.ndarray,
                  beta: float, n_boot: int, random_state: int) -> float:
    """The bootstrap standard error of F-beta at one threshold, resampling whole clusters (incidents)."""
    ids, inverse = np.unique(clusters, return_inverse=True)
    per = np.zeros((3, len(ids)))  # weighted tp, fp, fn per cluster
    np.add.at(per[0], inverse, weight * (predicted & y_true))
    np.add.at(per[1], inverse, weight * (predicted & ~y_true))
    np.add.at(per[2], inverse, weight * (~predicted & y_true))
    draws = np.random.default_rng(random_state).integers(0, len(ids), size=(n_boot, len(ids)))
    counts = np.apply_along_axis(np.bincount, 1, draws, minlength=len(ids))  # (n_boot, clusters)
    tp, fp, fn = (counts @ per[k] for k in range(3))
    return float(np.std(_f_beta(tp, fp, fn, beta), ddof=1))


def best_threshold(y_true: np.ndarray, proba: np.ndarray, *, min_positives: int = 3,
                   default: float = 0.5, beta: float = 1.0, sample_weight: np.ndarray | None = None,
                   rule: Rule = "best", clusters: np.ndarray | None = None, n_boot: int = 200,
                   random_state: int = 0) -> float:
    """The threshold chosen by ``rule`` on held-out probabilities (see the module docstring).

    Ties go to the threshold nearest ``default``. A label with fewer than ``min_positives``
    positives has too little evidence to move a threshold, and keeps ``default``.
    ``sample_weight`` counts each incident's true and false positives by its weight;
    ``clusters`` (one id per cell; default: each cell its own) are what the bootstrap resamples.
    """
    if rule not in RULES:
        raise ValueError(f"threshold rule must be one of {', '.join(RULES)}, not {rule!r}")
    known = known_mask(y_true)
    y_true = np.asarray(y_true)[known].astype(bool)
    proba = np.asarray(proba)[known]
    weight = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, dtype=float)[known]
    if y_true.sum() < min_positives:
        return default
    predicted = proba[None, :] >= GRID[:, None]  # (thresholds, cells)
    tp = (predicted & y_true) @ weight
    fp = (predicted & ~y_true) @ weight
    fn = (~predicted & y_true) @ weight
    scores = _f_beta(tp, fp, fn, beta)
    best = scores.max()
    ties = np.flatnonzero(scores >= best - 1e-9)
    top = int(ties[np.argmin(np.abs(GRID[ties] - default))])  # the best, nearest default
    if rule == "best":
        return float(GRID[top])
    if rule == "calibrated":
        return float(GRID[np.argmin(np.abs(GRID - best / (1 + beta ** 2)))])
    cells = np.arange(len(y_true)) if clusters is None else np.asarray(clusters)[known]
    se = _bootstrap_se(y_true, predicted[top], weight, cells, beta, n_boot, random_state)
    band = GRID[scores >= best - se - 1e-9]
    if rule == "lowest_within_se":
        return float(band.min())
    return float(np.round(np.median(band), 2))


def choose_thresholds(Y: np.ndarray, proba: np.ndarray, *, shared: bool = False, **kwargs) -> np.ndarray:
    """One threshold per column (``kwargs`` as ``best_threshold``'s, ``sample_weight`` and ``rule``
    included); ``shared``: one threshold for every column, best for micro F-beta over all of them
    (for calibrated probabilities, where a column's few positives would only add noise), its
    bootstrap resampling whole incidents (rows)."""
    if shared:
        weight = kwargs.pop("sample_weight", None)
        if weight is not None:
            weight = np.repeat(np.asarray(weight, dtype=float), Y.shape[1])
        clusters = np.repeat(np.arange(Y.shape[0]), Y.shape[1])
        return np.full(Y.shape[1], best_threshold(Y.reshape(-1), proba.reshape(-1), sample_weight=weight,
                                                  clusters=clusters, **kwargs))
    return np.array([best_threshold(Y[:, j], proba[:, j], **kwargs) for j in range(Y.shape[1])])
